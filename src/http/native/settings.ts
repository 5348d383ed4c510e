import { Hono } from "hono";
import * as v from "valibot";
import type { User } from "../../domain/records.ts";
import type { AppServices, RouteEnv } from "../env.ts";
import { normaliseOrigin, parseOrigins, TRANSFORM_POLICIES } from "../../domain/delivery/access.ts";
import { FITS } from "../../domain/delivery/native.ts";
import { jsonBody, parse } from "../validate.ts";
import { STRIP_MODES } from "../../../codecs/metadata/strip.ts";
import { tenantStrip } from "../../domain/ingest/strip.ts";
import { unix } from "./shape.ts";

/** The services these routes use. */
type Env = RouteEnv<"delivery" | "usage" | "users">;

const positive = v.nullable(
  v.pipe(
    v.number("must be a number"),
    v.integer("must be a whole number"),
    v.minValue(1, "must be at least 1"),
    v.maxValue(10000, "must be at most 10000"),
  ),
);

export const UpdateSettings = v.strictObject({
  delivery_formats: v.optional(
    v.pipe(
      v.array(v.picklist(["webp", "avif", "jpeg", "png", "jxl"], "each must be webp, avif, jpeg, png or jxl")),
      v.minLength(1, "must name at least one format"),
      v.checkItems((f, i, all) => all.indexOf(f) === i, "must not repeat a format"),
    ),
  ),
  default_quality: v.optional(
    v.pipe(
      v.number("must be a number"),
      v.integer("must be a whole number"),
      v.minValue(1, "must be 1–100"),
      v.maxValue(100, "must be 1–100"),
    ),
  ),
  default_fit_mode: v.optional(v.picklist(FITS, "must be cover, contain, fill or scale-down")),
  default_max_width: v.optional(positive),
  default_max_height: v.optional(positive),
  theme: v.optional(v.pipe(v.string(), v.maxLength(20, "at most 20 characters"))),
  language: v.optional(
    v.pipe(v.string(), v.regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, "must be a language tag like en or pt-BR")),
  ),
  strip_metadata: v.optional(
    v.pipe(
      v.picklist(STRIP_MODES, "must be none, gps or all"),
      v.description(
        "What uploaded originals lose unless the upload's `strip` field says: none, gps (the EXIF GPS position, the default) or all (EXIF but the orientation, XMP, IPTC, comments); colour profiles always stay",
      ),
    ),
  ),
  transforms: v.optional(
    v.pipe(
      v.picklist(TRANSFORM_POLICIES, "must be signed, presets or any"),
      v.description(
        "What unsigned URLs of anonymous callers may ask: signed (only originals as they are), presets (originals and named presets) or any. The stricter of this and IMGD_TRANSFORMS holds; your key, your session and signed URLs are never held",
      ),
    ),
  ),
  fetch_origins: v.optional(
    v.pipe(
      v.array(
        v.pipe(
          v.string("each must be a URL prefix"),
          v.maxLength(2048, "each must be at most 2048 characters"),
          v.check(
            (o) => normaliseOrigin(o) !== null,
            "each must be an http(s) URL prefix without credentials, query or fragment, e.g. https://cdn.example.com/logos/",
          ),
        ),
      ),
      v.maxLength(50, "at most 50 origins"),
      v.description(
        "URL prefixes (matched by whole path segments) that unsigned URLs may make imgd fetch from, as watermark_url; signed URLs and your own requests may fetch any URL the server's fetcher allows",
      ),
    ),
  ),
});

async function settingsOf(s: Pick<AppServices, "usage">, user: User) {
  const storage = await s.usage.storage(user.id);
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    plan: user.plan,
    delivery_formats: user.delivery_formats,
    default_quality: user.default_quality,
    default_fit_mode: user.default_fit_mode,
    default_max_width: user.default_max_width,
    default_max_height: user.default_max_height,
    theme: user.theme,
    language: user.language,
    transforms: (TRANSFORM_POLICIES as readonly string[]).includes(user.transforms ?? "")
      ? (user.transforms as (typeof TRANSFORM_POLICIES)[number])
      : "any",
    fetch_origins: parseOrigins(user.fetch_origins),
    strip_metadata: tenantStrip(user),
    created_at: unix(user.created_at),
    updated_at: unix(user.updated_at),
    total_uploads: storage.images,
    storage_used_bytes: storage.bytes,
  };
}

export const settingsRoutes = new Hono<Env>()
  .get("/", async (c) => c.json({ settings: await settingsOf(c.var.services, c.var.principal.user) }))
  .put("/", async (c) => {
    const body = parse(UpdateSettings, await jsonBody(c.req.raw));
    const { users } = c.var.services;
    const { delivery_formats, fetch_origins, ...rest } = body;
    const user = await users.update(c.var.principal.user.id, {
      ...rest,
      ...(delivery_formats && { delivery_formats: JSON.stringify(delivery_formats) }),
      ...(fetch_origins && {
        fetch_origins: JSON.stringify([...new Set(fetch_origins.map((o) => normaliseOrigin(o)!))]),
      }),
    });
    // Answers remembered for its URLs (the hot path) were given under the old rules.
    c.var.services.delivery.forgetUser(user.id);
    return c.json({ settings: await settingsOf(c.var.services, user), message: "Settings updated successfully" });
  });
