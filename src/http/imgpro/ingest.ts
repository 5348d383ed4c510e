import { Hono, type Context } from "hono";
import type { User } from "../../domain/records.ts";
import { AppError } from "../../domain/errors.ts";
import { Fetcher } from "../../domain/fetcher/fetcher.ts";
import type { Upload, Uploader } from "../../domain/ingest/ingest.ts";
import {
  FieldErrors,
  checkCustomSize,
  parseBool,
  parseCustom,
  parseDate,
  parseNamespace,
  parseTags,
  parseText,
  parseTtl,
} from "../../domain/library/fields.ts";
import { ANONYMOUS_RETENTION_DAYS } from "../../domain/metering/metering.ts";
import { DAY, HOUR } from "../../domain/metering/ratelimits.ts";
import { optionalKey } from "../auth.ts";
import { clientIp } from "../client-ip.ts";
import type { RouteEnv } from "../env.ts";
import { boundaryOf, parseMultipart, readField } from "../multipart.ts";
import { receiveUpload, requireFile } from "../receive-upload.ts";
import { baseUrl } from "../urls.ts";
import { jsonBody } from "../validate.ts";
import { mediaItem, upgradeHint } from "./shape.ts";
import { STRIP_MODES, type StripMode } from "../../../codecs/metadata/strip.ts";

/** The services these routes use. */
type Env = RouteEnv<
  | "accounts"
  | "auth"
  | "config"
  | "fetcher"
  | "images"
  | "ingest"
  | "metering"
  | "rates"
  | "trustedProxies"
  | "ownHosts"
>;

// POST /v1/upload and POST /v1/import: the same fields, a file or a URL. Every field is checked
// (all errors reported at once) before anything is stored; the received bytes are discarded
// on any refusal.

export interface IngestFields {
  tags?: string[];
  namespace?: string;
  pagePublic?: boolean;
  ttlSeconds?: number;
  name?: string;
  date?: string;
  externalId?: string;
  /** What of the original's metadata goes (imgd's own field). */
  strip?: StripMode;
  custom: Record<string, unknown>;
}

/** Reads img.pro's upload fields from form or JSON values; `skip` names fields handled elsewhere. */
export function parseIngestFields(raw: Record<string, unknown>, skip: string[], e = new FieldErrors()): IngestFields {
  const out: IngestFields = { custom: {} };
  const given = (k: string) => raw[k] !== undefined && raw[k] !== "";
  if (given("tags")) out.tags = parseTags(raw.tags, e);
  if (given("namespace")) out.namespace = parseNamespace(raw.namespace, e);
  if (given("public")) out.pagePublic = parseBool(raw.public, e, "public");
  if (raw.ttl !== undefined) out.ttlSeconds = parseTtl(raw.ttl, e);
  if (given("name")) out.name = parseText(raw.name, e, "name", 255);
  if (given("date")) out.date = parseDate(raw.date, e);
  if (given("external_id")) out.externalId = parseText(raw.external_id, e, "external_id", 255);
  if (raw.strip !== undefined) {
    if (STRIP_MODES.includes(raw.strip as StripMode)) out.strip = raw.strip as StripMode;
    else e.add("strip", "must be none, gps or all");
  }
  const rest = Object.fromEntries(Object.entries(raw).filter(([k]) => !skip.includes(k) && k !== "strip"));
  out.custom = parseCustom(rest, e, false);
  checkCustomSize(out.custom, e);
  e.throwIfAny();
  return out;
}

interface Caller {
  user: User;
  anonymous: boolean;
}

/** The tenant the upload goes to: the key's, or the anonymous owner when that is allowed. */
async function callerOf(c: Context<Env>): Promise<Caller> {
  const principal = c.get("principal");
  if (principal) return { user: principal.user, anonymous: false };
  if (!c.var.services.config.anonymousUploads) {
    throw new AppError(
      "UNAUTHORIZED",
      "Missing API key: send 'Authorization: Bearer <key>' (anonymous uploads are off on this server)",
    );
  }
  return { user: await c.var.services.accounts.anonymous(), anonymous: true };
}

/** Anonymous uploads have their own size limit; a tenant's come from its plan. */
const uploaderOf = (c: Context<Env>, caller: Caller): Uploader =>
  caller.anonymous
    ? { user: caller.user, anonymous: true, maxBytes: c.var.services.config.maxAnonymousUploadBytes }
    : { user: caller.user };

/** A match on external_id answers with the stored item: 200 and X-Deduplicated. */
function deduplicated(c: Context<Env>, caller: Caller, img: Parameters<typeof mediaItem>[2]) {
  c.header("X-Deduplicated", "true");
  return c.json(mediaItem(baseUrl(c), caller.user, img, { editable: !caller.anonymous }), 200);
}

/** Checks img.pro's own limits, then stores what `upload` received. */
async function finish(
  c: Context<Env>,
  caller: Caller,
  upload: Upload,
  f: IngestFields,
  filename: string,
  sourceUrl: string | null,
) {
  const { services } = c.var;
  const { config, images, metering, rates } = services;
  const received = upload.received!;
  if (received.header.format === "svg" && received.size > config.maxSvgBytes) {
    throw new AppError("PAYLOAD_TOO_LARGE", `SVG files may be at most ${config.maxSvgBytes} bytes`);
  }
  if (f.externalId && !caller.anonymous) {
    const same = await images.byExternalId(caller.user.id, f.externalId);
    if (same) return deduplicated(c, caller, same);
  }
  const now = config.now();
  let expiresAt = f.ttlSeconds !== undefined ? now + f.ttlSeconds * 1000 : null;
  if (caller.anonymous) {
    const ip = clientIp(c);
    await rates.take(
      [
        {
          subject: `anon-upload:${ip}`,
          limit: config.anonymousUploadsPerHour,
          windowMs: HOUR,
          label: `${config.anonymousUploadsPerHour} per hour per IP address`,
        },
        {
          subject: `anon-upload:${ip}`,
          limit: config.anonymousUploadsPerDay,
          windowMs: DAY,
          label: `${config.anonymousUploadsPerDay} per day per IP address`,
        },
      ],
      "anonymous uploads",
    );
    expiresAt = Math.min(expiresAt ?? Infinity, now + ANONYMOUS_RETENTION_DAYS * DAY);
  } else {
    // Counted (and refused when over the plan) as it is stored: see Metering.countUpload.
    const retention = metering.limitsOf(caller.user).retentionDays;
    if (retention !== null) expiresAt = Math.min(expiresAt ?? Infinity, now + retention * DAY);
  }
  const stored = await upload.store({
    filename: f.name ?? (filename || "image"),
    tags: f.tags,
    namespace: f.namespace,
    metadata: f.custom,
    expiresAt,
    externalId: caller.anonymous ? null : (f.externalId ?? null),
    sourceUrl,
    displayDate: f.date ?? null,
    pagePublic: f.pagePublic ?? true,
    separate: true,
    strip: f.strip,
  });
  if (stored.deduplicated) return deduplicated(c, caller, stored.image);
  // imgd's own field, beside thumbhash and placeholder.
  const item = {
    ...mediaItem(baseUrl(c), caller.user, stored.image, { editable: !caller.anonymous }),
    stripped: stored.stripped,
  };
  return c.json(caller.anonymous ? { ...item, upgrade: upgradeHint(baseUrl(c)) } : item, 201);
}

export const ingestRoutes = new Hono<Env>()
  .post("/upload", optionalKey("write"), async (c) => {
    const caller = await callerOf(c);
    const { upload, fields, filename } = await receiveUpload(c, c.var.services.ingest, {
      uploader: uploaderOf(c, caller),
      notMultipart: "file: send multipart/form-data with the image in a 'file' field",
      maxFieldBytes: 16 * 1024,
    });
    try {
      const f = parseIngestFields(fields, ["file"]);
      requireFile(upload);
      return await finish(c, caller, upload, f, filename, null);
    } finally {
      await upload.discard();
    }
  })
  .post("/import", optionalKey("write"), async (c) => {
    const caller = await callerOf(c);
    const { images, fetcher, ingest } = c.var.services;
    const raw = await importBody(c);
    const e = new FieldErrors();
    let url: URL | undefined;
    if (typeof raw.url !== "string" || raw.url === "") e.add("url", "is required");
    else {
      try {
        url = Fetcher.parseUrl(raw.url);
      } catch (err) {
        e.add("url", (err as Error).message.replace(/^url: /, ""));
      }
    }
    const f = parseIngestFields(raw, ["url"], e);
    if (f.externalId && !caller.anonymous) {
      const same = await images.byExternalId(caller.user.id, f.externalId);
      if (same) return deduplicated(c, caller, same);
    }
    const admission = await ingest.admit(uploaderOf(c, caller));
    const fetched = await fetcher.open(url!.href, admission.maxBytes);
    const upload = ingest.begin(admission);
    try {
      await upload.receive(fetched.body).catch((err) => {
        if (!(err instanceof AppError && err.code === "INVALID_FILE")) throw err;
        throw new AppError("INVALID_FILE", `The URL did not return an image: ${err.message}`, {
          field: "url",
          reason: "fetch_failed",
        });
      });
      return await finish(c, caller, upload, f, fetched.filename, url!.href);
    } finally {
      await upload.discard();
    }
  });

/** JSON, urlencoded or multipart form: all flat fields. */
async function importBody(c: Context<Env>): Promise<Record<string, unknown>> {
  const type = c.req.header("content-type") ?? "";
  if (/^application\/x-www-form-urlencoded/i.test(type) || /^multipart\/form-data/i.test(type)) {
    const out: Record<string, unknown> = {};
    const boundary = boundaryOf(type);
    if (boundary && c.req.raw.body) {
      for await (const part of parseMultipart(c.req.raw.body, boundary)) {
        if (part.filename !== undefined)
          throw new AppError("VALIDATION_ERROR", "file: import takes a url, not a file (use /v1/upload)", {
            field: "file",
          });
        out[part.name] = await readField(part, 16 * 1024);
      }
      return out;
    }
    const text = new TextDecoder().decode(new Uint8Array(await c.req.arrayBuffer()).subarray(0, 1 << 20));
    for (const [k, v] of new URLSearchParams(text)) out[k] = v;
    return out;
  }
  const body = await jsonBody(c.req.raw);
  if (!body || typeof body !== "object" || Array.isArray(body))
    throw new AppError("VALIDATION_ERROR", "body: must be a JSON object", { field: "body" });
  return body as Record<string, unknown>;
}
