import * as v from "valibot";

// img.pro's answers as valibot schemas (the API document's source; tests validate real answers
// against it). Optional fields are left out when they do not apply; custom fields sit at the
// top level of a media item; times are Unix seconds.

const d = v.description;
const unix = v.pipe(v.number(), v.integer(), d("Unix seconds"));
const limit = v.nullable(v.pipe(v.number(), d("null: unlimited")));
const action = v.object({
  type: v.picklist(["upgrade", "verify", "retry", "register"]),
  url: v.optional(v.string()),
  label: v.string(),
  message: v.string(),
  retry_after: v.optional(v.number()),
});

export const ImgproError = v.object({
  error: v.object({
    code: v.pipe(v.string(), d("validation_error, unauthorized, quota_exceeded, not_found, file_too_large, …")),
    message: v.string(),
    status: v.number(),
    path: v.string(),
    errors: v.optional(v.pipe(v.record(v.string(), v.string()), d("Every bad field with its problem"))),
    action: v.optional(action),
  }),
});

const size = v.object({ url: v.string(), width: v.number(), height: v.number() });

export const MediaItem = v.pipe(
  v.looseObject({
    id: v.string(),
    name: v.string(),
    url: v.optional(v.pipe(v.string(), d("The public viewer page, when the item is public"))),
    src: v.pipe(v.string(), d("The image itself; add ?size=s|m|l for smaller")),
    width: v.number(),
    height: v.number(),
    filesize: v.number(),
    status: v.optional(
      v.pipe(v.picklist(["processing", "failed"]), d("Only on an item that is not ready; omitted once it is")),
    ),
    editable: v.optional(v.boolean()),
    tags: v.optional(v.array(v.string())),
    namespace: v.optional(v.string()),
    date: v.optional(v.string()),
    external_id: v.optional(v.string()),
    source_url: v.optional(v.string()),
    expires_at: v.optional(unix),
    created_at: unix,
    thumbhash: v.nullable(
      v.pipe(v.string(), d("imgd's own: the ThumbHash (base64) of a blurred preview; null until made")),
    ),
    placeholder: v.pipe(v.string(), d("imgd's own: that preview as a tiny PNG (src with ?placeholder)")),
    sizes: v.optional(v.object({ s: v.optional(size), m: v.optional(size), l: v.optional(size) })),
    upgrade: v.optional(action),
  }),
  d("A media item; custom metadata fields appear at the top level"),
);

export const MediaList = v.object({
  data: v.array(MediaItem),
  next_cursor: v.nullable(v.string()),
  has_more: v.boolean(),
});

export const KeyCreated = v.object({
  key: v.pipe(v.string(), d("The secret: shown once")),
  key_id: v.string(),
  status: v.string(),
  verified: v.boolean(),
  limits: v.object({ uploads: limit, storage_mb: limit, retention_days: limit }),
  scopes: v.pipe(v.array(v.string()), d("imgd's addition: what the key may do (read, write)")),
  expires_at: v.nullable(v.pipe(unix, d("imgd's addition: when the key stops working (null: never)"))),
  message: v.string(),
});

export const ImgproUsage = v.object({
  monthly: v.object({ uploads: v.number(), uploads_limit: limit, uploads_remaining: limit, resets_at: unix }),
  totals: v.object({
    media_stored: v.number(),
    storage_used_bytes: v.number(),
    storage_limit_bytes: limit,
    storage_remaining_bytes: limit,
  }),
  plan: v.string(),
  verified: v.boolean(),
});

export const Namespaces = v.object({
  data: v.array(v.object({ namespace: v.string(), count: v.number(), storage_bytes: v.number() })),
  next_offset: v.nullable(v.number()),
});

export const BatchUpdated = v.object({ updated: v.number() });
export const BatchDeleted = v.object({ deleted: v.number() });
