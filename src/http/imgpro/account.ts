import { Hono } from "hono";
import * as v from "valibot";
import { normalizeEmail } from "../../domain/accounts/accounts.ts";
import { AppError } from "../../domain/errors.ts";
import { optionalKey, requireKey } from "../auth.ts";
import { clientIp } from "../client-ip.ts";
import { sendEmailLink } from "../email-link.ts";
import type { RouteEnv } from "../env.ts";
import { jsonBody, parse, queryInt } from "../validate.ts";

/** The services these routes use. */
type Env = RouteEnv<"accounts" | "auth" | "config" | "log" | "media" | "metering" | "trustedProxies">;

// POST /v1/keys, GET /v1/usage, GET /v1/namespaces.

const MiB = 1024 ** 2;
const unix = (ms: number) => Math.floor(ms / 1000);

export const CreateKey = v.object({
  email: v.pipe(v.string("is required"), v.trim(), v.minLength(3, "is required"), v.maxLength(254, "is too long")),
  name: v.optional(
    v.pipe(
      v.string("must be a string"),
      v.trim(),
      v.minLength(1, "must not be empty"),
      v.maxLength(100, "at most 100 characters"),
    ),
    "Default",
  ),
});

export const NamespacesQuery = v.object({ limit: queryInt(1, 100, 100), offset: queryInt(0, 1_000_000_000, 0) });

export const accountRoutes = new Hono<Env>()
  .post("/keys", optionalKey("write"), async (c) => {
    const { config, accounts } = c.var.services;
    if (config.registration !== "open") {
      throw new AppError("FORBIDDEN", "This server does not accept new keys: ask its operator for an account", {
        reason: "registration_closed",
      });
    }
    const body = parse(CreateKey, await jsonBody(c.req.raw));
    const r = await accounts.register({
      email: body.email,
      keyName: body.name,
      ip: clientIp(c),
      caller: c.get("principal"),
    });
    if (r.claim) sendEmailLink(c, normalizeEmail(body.email) ?? body.email, r.claim);
    const limits = c.var.services.metering.limitsOf(r.user);
    return c.json(
      {
        key: r.secret,
        key_id: r.key.id,
        status: "active",
        verified: !!r.user.verified,
        limits: {
          uploads: limits.uploadsPerMonth,
          storage_mb: limits.storageBytes === null ? null : Math.round(limits.storageBytes / MiB),
          retention_days: limits.retentionDays,
        },
        // imgd's additions: what the key may do and until when (a key made with a key is
        // never stronger than it).
        scopes: r.key.scopes.split(","),
        expires_at: r.key.expires_at === null ? null : unix(r.key.expires_at),
        message: [
          "Key active.",
          ...(r.claim
            ? ["The email address becomes the account's once the confirmation link sent for it is opened."]
            : []),
          ...(r.user.verified ? [] : ["Ask the operator to verify the account to unlock permanent storage."]),
        ].join(" "),
      },
      201,
    );
  })
  .get("/usage", requireKey(), async (c) => {
    const { user } = c.var.principal;
    const s = await c.var.services.metering.status(user);
    const remaining = (limit: number | null, used: number) => (limit === null ? null : Math.max(0, limit - used));
    return c.json({
      monthly: {
        uploads: s.uploadsUsed,
        uploads_limit: s.limits.uploadsPerMonth,
        uploads_remaining: remaining(s.limits.uploadsPerMonth, s.uploadsUsed),
        resets_at: unix(s.resetsAt),
      },
      totals: {
        media_stored: s.images,
        storage_used_bytes: s.storageUsed,
        storage_limit_bytes: s.limits.storageBytes,
        storage_remaining_bytes: remaining(s.limits.storageBytes, s.storageUsed),
      },
      // img.pro calls its own account plan "free"; imgd names it "imgpro" beside img-src's free.
      plan: user.plan === "imgpro" ? "free" : user.plan,
      verified: !!user.verified,
    });
  })
  .get("/namespaces", requireKey(), async (c) => {
    const q = parse(NamespacesQuery, c.req.query(), "query");
    const r = await c.var.services.media.namespaces(c.var.principal.user.id, q.offset, q.limit);
    return c.json({ data: r.data, next_offset: r.nextOffset });
  });
