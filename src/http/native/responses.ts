import * as v from "valibot";
import { EVENT_TYPES } from "../../domain/webhooks/index.ts";

// The native (img-src) dialect's answers as valibot schemas: the API document is generated from
// them and the tests validate every real answer against that document. shape.ts builds these.

const d = v.description;
const url = v.pipe(v.string(), d("An absolute URL"));
const time = v.pipe(v.string(), d("RFC 3339 time, e.g. 2026-01-31T12:00:00Z"));
const unix = v.pipe(v.number(), v.integer(), d("Unix seconds"));
const nullable = <S extends v.GenericSchema>(s: S) => v.nullable(s);
const visibility = v.picklist(["public", "private"]);
const formats = v.object({ webp: url, avif: url, jpeg: url, png: url, jxl: url });
const links = v.object({ self: v.string(), delete: v.string() });
/** imgd's own: a blurred preview of the image (shape.ts's placeholder). */
const placeholder = {
  thumbhash: nullable(
    v.pipe(
      v.string(),
      d(
        "The image's ThumbHash, base64: clients render it as a blurred preview. Null until made (the placeholder URL makes it)",
      ),
    ),
  ),
  placeholder_url: v.pipe(v.string(), d("The same preview as a tiny PNG: the delivery URL with ?placeholder")),
};

export const NativeError = v.pipe(
  v.object({
    error: v.object({
      code: v.pipe(v.string(), d("VALIDATION_ERROR, INVALID_FILE, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, …")),
      message: v.pipe(v.string(), d("What went wrong and what to do about it")),
      status: v.number(),
      path: nullable(v.string()),
    }),
  }),
  d("The native error envelope"),
);

export const UploadedImage = v.object({
  id: v.string(),
  hash: v.pipe(v.string(), d("SHA-256 of the stored bytes")),
  url,
  paths: v.array(v.string()),
  is_new: nullable(v.pipe(v.boolean(), d("false: the same bytes were stored already (a new path alias only)"))),
  size: v.number(),
  format: v.string(),
  dimensions: nullable(v.object({ width: v.number(), height: v.number() })),
  available_formats: formats,
  uploaded_at: time,
  visibility,
  ...placeholder,
  _links: links,
  stripped: v.pipe(
    v.array(v.picklist(["gps", "exif", "xmp", "iptc", "comment"])),
    d(
      "What was removed of the file's metadata before it was stored (the `strip` field, else the tenant's strip_metadata): [] when nothing",
    ),
  ),
});

const library = {
  tags: v.array(v.string()),
  namespace: nullable(v.string()),
  custom_metadata: v.record(v.string(), v.unknown()),
  expires_at: nullable(time),
};

const listFields = {
  id: v.string(),
  original_filename: v.string(),
  sanitized_filename: v.string(),
  size: v.number(),
  uploaded_at: time,
  url: v.string(),
  cdn_url: url,
  paths: v.array(v.string()),
  visibility,
  ...placeholder,
  ...library,
};

export const ImageListItem = v.object({
  ...listFields,
  active_signed_url: nullable(v.object({ signed_url: url, expires_at: nullable(unix) })),
});

export const ImageList = v.object({
  images: v.array(ImageListItem),
  folders: v.array(v.object({ name: v.string(), image_count: v.number() })),
  total: v.number(),
  limit: v.number(),
  offset: v.number(),
  has_more: v.boolean(),
  path_filter: nullable(v.string()),
});

export const ImageSearch = v.object({
  results: v.array(v.object(listFields)),
  total: v.number(),
  query: v.string(),
});

export const ImageMetadata = v.object({
  id: v.string(),
  metadata: v.object({
    hash: v.string(),
    original_filename: v.string(),
    size: v.number(),
    uploaded_at: time,
    mime_type: v.string(),
    width: v.number(),
    height: v.number(),
    dominant_color: nullable(v.string()),
    frames: v.number(),
    has_alpha: v.boolean(),
    ...placeholder,
  }),
  urls: v.object({ original: url, ...formats.entries }),
  paths: v.array(v.string()),
  visibility,
  source_url: nullable(v.pipe(v.string(), d("The URL the image was imported from (null: uploaded as a file)"))),
  ...library,
  _links: links,
});

export const ImageDeleted = v.object({
  success: v.boolean(),
  message: v.string(),
  deleted_paths: v.array(v.string()),
  deleted_at: time,
});

export const PathDeleted = v.object({
  success: v.boolean(),
  message: v.string(),
  remaining_paths: v.array(v.string()),
  image_deleted: v.boolean(),
  deleted_at: time,
});

export const ImagePurged = v.object({
  success: v.boolean(),
  id: v.string(),
  generation: v.pipe(
    v.number(),
    d("Purges of this image so far: part of its ETags, so every answer after a purge has a new one"),
  ),
  urls: v.pipe(v.array(url), d("The image's public URLs: its paths under /i/ and the URLs its variants were made for")),
  cdn: v.pipe(
    v.nullable(
      v.object({
        requests: v.number(),
        failed: v.array(v.object({ url: v.string(), error: v.string() })),
      }),
    ),
    d("What the CDN purge hook (IMGD_PURGE) answered; null when none is set"),
  ),
  purged_at: time,
});

export const SignedUrl = v.object({ signed_url: url, expires_at: unix, expires_in_seconds: v.number() });

export const VisibilityChanged = v.object({ id: v.string(), visibility, message: v.string() });

export const Success = v.object({ success: v.boolean(), message: v.optional(v.string()) });

const scopes = v.pipe(v.string(), d("Comma-separated: read, write or read,write"));

export const ApiKey = v.object({
  id: v.string(),
  name: v.string(),
  key_prefix: v.string(),
  scopes,
  created_at: unix,
  last_used_at: nullable(unix),
  expires_at: nullable(unix),
  total_requests: v.number(),
});

export const ApiKeyList = v.object({ api_keys: v.array(ApiKey), total: v.number() });

export const ApiKeyCreated = v.object({
  id: v.string(),
  key: v.pipe(v.string(), d("The secret: shown once, stored only as a hash")),
  key_prefix: v.string(),
  name: v.string(),
  scopes,
  created_at: unix,
  expires_at: nullable(unix),
});

export const Preset = v.object({
  id: v.string(),
  name: v.string(),
  description: nullable(v.string()),
  params: v.record(v.string(), v.unknown()),
  created_at: unix,
  updated_at: unix,
  usage_count: v.number(),
});

export const PresetList = v.object({ presets: v.array(Preset), total: v.number() });

const settings = v.object({
  id: v.string(),
  username: v.string(),
  email: nullable(v.string()),
  plan: v.string(),
  delivery_formats: v.array(v.string()),
  default_quality: nullable(v.number()),
  default_fit_mode: nullable(v.string()),
  default_max_width: nullable(v.number()),
  default_max_height: nullable(v.number()),
  theme: nullable(v.string()),
  language: nullable(v.string()),
  transforms: v.pipe(
    v.picklist(["signed", "presets", "any"]),
    d("What unsigned URLs of anonymous callers may ask; the stricter of this and the server's IMGD_TRANSFORMS holds"),
  ),
  fetch_origins: v.pipe(
    v.array(v.string()),
    d("URL prefixes an unsigned URL may make imgd fetch from (watermark_url), normalised"),
  ),
  strip_metadata: v.pipe(
    v.picklist(["none", "gps", "all"]),
    d("What uploaded originals lose unless the upload's `strip` field says (default gps)"),
  ),
  created_at: unix,
  updated_at: unix,
  total_uploads: v.number(),
  storage_used_bytes: v.number(),
});

export const Settings = v.object({ settings, message: v.optional(v.string()) });

const limit = nullable(v.pipe(v.number(), d("null: unlimited")));

export const Usage = v.object({
  plan: v.string(),
  plan_name: v.string(),
  plan_status: v.string(),
  subscription_ends_at: v.null(),
  plan_limits: v.object({
    max_uploads_per_month: limit,
    max_storage_bytes: limit,
    max_bandwidth_per_month: limit,
    max_api_requests_per_month: limit,
    max_transformations_per_month: limit,
  }),
  plan_features: v.array(v.string()),
  other_limits: v.object({
    max_views_per_month: limit,
    max_requests_per_minute: limit,
    max_upload_bytes: limit,
  }),
  total_images: v.number(),
  storage_used_bytes: v.number(),
  storage_used_mb: v.number(),
  storage_used_gb: v.number(),
  current_period: v.object({
    period: v.string(),
    period_start: unix,
    period_end: unix,
    uploads: v.number(),
    bandwidth_bytes: v.number(),
    api_requests: v.number(),
    transformations: v.number(),
    views: v.number(),
  }),
  credits: v.object({ storage_bytes: v.number(), api_requests: v.number(), transformations: v.number() }),
});

export const AdminUser = v.object({
  id: v.string(),
  username: v.string(),
  email: nullable(v.string()),
  role: v.string(),
  plan: v.string(),
  verified: v.boolean(),
  created_at: unix,
});

export const AdminUserList = v.object({ users: v.array(AdminUser), total: v.number() });

export const AdminUserDeleted = v.object({ success: v.boolean(), message: v.string(), id: v.string() });

const series = <K extends string>(key: K) => v.array(v.object({ timestamp: v.string(), [key]: v.number() }));

export const MetricsDatasets = v.object({
  uploads: series("uploads"),
  transformations: series("transformations"),
  requests: series("requests"),
  transfer_bytes: series("transfer_bytes"),
  cache_hit_ratio: v.array(v.object({ label: v.string(), value: v.number() })),
  storage_bytes: v.array(
    v.object({ timestamp: v.string(), storage_bytes_current: v.number(), storage_bytes_added: v.number() }),
  ),
});

const stat = v.object({ value: v.number(), prev: v.number(), pct_change: nullable(v.number()) });

export const MetricsStats = v.object({
  uploads: stat,
  transformations: stat,
  requests: stat,
  transfer_bytes: stat,
  cache_hit_ratio: stat,
  storage_bytes: stat,
});

const databaseKind = v.pipe(v.string(), d("What the database is: sqlite or postgres"));
const storageKind = v.pipe(v.string(), d("Where blobs are kept: filesystem or s3"));

export const Health = v.object({
  status: v.pipe(v.literal("ok"), d("The process answers")),
  timestamp: time,
  database: databaseKind,
  storage: storageKind,
});

const probe = (kind: v.GenericSchema) =>
  v.object({
    kind,
    ok: v.boolean(),
    error: v.optional(v.pipe(v.string(), d("Why it did not answer"))),
  });

export const Ready = v.object({
  status: v.picklist(["ready", "unavailable"]),
  timestamp: time,
  database: probe(databaseKind),
  storage: probe(storageKind),
});

const webhookEvent = v.picklist(EVENT_TYPES);

export const Webhook = v.object({
  id: v.string(),
  url,
  events: v.array(webhookEvent),
  created_at: unix,
});

export const WebhookCreated = v.object({
  ...Webhook.entries,
  secret: v.pipe(
    v.string(),
    d("whsec_ + base64 of the signing key (Standard Webhooks); shown only here, keep it to verify deliveries"),
  ),
});

export const WebhookList = v.object({ webhooks: v.array(Webhook), total: v.number() });

export const WebhookDelivery = v.object({
  id: v.string(),
  message_id: v.pipe(v.string(), d("The webhook-id header: the same on every attempt and redelivery")),
  type: webhookEvent,
  status: v.picklist(["pending", "delivered", "failed"]),
  attempts: v.number(),
  last_status: nullable(v.pipe(v.number(), d("The endpoint's HTTP status at the last attempt"))),
  last_error: nullable(v.string()),
  created_at: unix,
  next_attempt_at: nullable(unix),
  finished_at: nullable(unix),
  event: v.pipe(
    v.object({ type: webhookEvent, timestamp: time, data: v.looseObject({ id: v.string() }) }),
    d("The body delivered"),
  ),
});

export const WebhookDeliveryList = v.object({ deliveries: v.array(WebhookDelivery), total: v.number() });
