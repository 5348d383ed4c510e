import * as v from "valibot";

// Imgwire's answers as valibot schemas, the shapes of shape.ts (the API document's source; the
// tests validate real answers against it, as they do against Imgwire's own document).

const d = v.description;
const time = v.pipe(v.string(), d("ISO 8601 with a time zone"));
const nullable = <S extends v.GenericSchema>(s: S) => v.nullable(s);

export const ImgwireError = v.pipe(
  v.object({
    detail: v.union([
      v.string(),
      v.array(v.object({ loc: v.array(v.union([v.string(), v.number()])), msg: v.string(), type: v.string() })),
    ]),
  }),
  d("{detail: message}, or a 422 listing every problem as {loc, msg, type}"),
);

export const Detail = v.object({ detail: v.string() });

export const Image = v.object({
  id: v.pipe(v.string(), v.uuid()),
  environment_id: v.string(),
  upload_token_id: nullable(v.string()),
  original_filename: v.string(),
  hash_sha256: nullable(v.string()),
  status: v.picklist(["PENDING", "PROCESSING", "READY", "FAILED"]),
  cdn_url: v.pipe(v.string(), d("Absolute URL; add Imgwire's URL parameters")),
  mime_type: v.string(),
  can_upload: v.boolean(),
  is_directly_deliverable: v.boolean(),
  idempotency_key: nullable(v.string()),
  purpose: nullable(v.string()),
  extension: v.string(),
  width: v.number(),
  height: v.number(),
  size_bytes: v.number(),
  custom_metadata: v.record(v.string(), v.unknown()),
  exif_data: v.record(v.string(), v.unknown()),
  created_at: time,
  updated_at: time,
  deleted_at: nullable(time),
  processed_metadata_at: nullable(time),
  thumbhash: nullable(
    v.pipe(v.string(), d("imgd's own: the ThumbHash (base64) of a blurred preview; null until the image is stored")),
  ),
});

export const StandardUploadAnswer = v.object({
  image: Image,
  upload_url: v.pipe(v.string(), d("PUT the bytes here (signed; empty once uploaded)")),
});

export const UploadToken = v.object({
  id: v.string(),
  environment_id: v.string(),
  used_at: nullable(time),
  expires_at: time,
  created_at: time,
  updated_at: time,
  token: v.string(),
});

export const DownloadJob = v.object({
  id: v.string(),
  environment_id: v.string(),
  status: v.string(),
  image_ids: v.array(v.string()),
  download_url: nullable(v.string()),
  created_at: time,
  updated_at: time,
});

export const ApiKey = v.object({
  id: v.string(),
  environment_id: v.string(),
  name: v.string(),
  key_type: v.picklist(["CLIENT", "SERVER"]),
  client_key: nullable(v.string()),
  server_key: nullable(v.pipe(v.string(), d("The secret, in the answer to its creation only"))),
  server_key_last4: nullable(v.string()),
  allow_unsigned_upload: nullable(v.boolean()),
  maximum_upload_bytes: nullable(v.number()),
  allowed_mime_types: nullable(v.array(v.string())),
  maximum_pending_uploads: nullable(v.number()),
  scopes: v.array(v.string()),
  expires_at: nullable(v.pipe(time, d("imgd's addition: when the key stops working (null: never)"))),
  created_at: time,
  updated_at: time,
});

export const Environment = v.object({
  id: v.string(),
  organization_id: v.null(),
  name: v.string(),
  default: v.boolean(),
  created_at: time,
  updated_at: time,
});

export const CorsOrigin = v.object({
  id: v.string(),
  environment_id: v.string(),
  pattern: v.string(),
  created_at: time,
  updated_at: time,
});

export const CustomDomain = v.object({
  id: v.string(),
  environment_id: v.string(),
  hostname: v.string(),
  cname_record: v.string(),
  cname_value: v.string(),
  dcv_cname_record: v.string(),
  dcv_cname_value: v.string(),
  certificate_status: v.string(),
  status: v.string(),
  last_verified_at: nullable(time),
  created_at: time,
  updated_at: time,
});
