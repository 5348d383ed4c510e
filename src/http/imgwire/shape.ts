import type {
  ImgwireCorsOrigin,
  ImgwireDomain,
  ImgwireDownload,
  ImgwireToken,
  ImgwireUpload,
} from "../../domain/records.ts";
import type { ApiKey, User } from "../../domain/records.ts";
import { WEB_FORMATS } from "../../domain/delivery/spec.ts";
import type { ImageRecord } from "../../domain/library/images.ts";
import { clientOptions, keyExtras } from "../../domain/imgwire/keys.ts";
import { imgwireMime } from "../../domain/imgwire/uploads.ts";
import { customFieldsOf } from "../../domain/library/fields.ts";

// Imgwire's response models: every member present (null where there is no value), UUIDs,
// times as RFC 3339 with a zone.

export const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : iso(ms));

const EXT: Record<string, string> = { jpeg: "jpg", tiff: "tif" };
const MIME_EXT: Record<string, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/webp": "webp",
  "image/avif": "avif",
  "image/gif": "gif",
  "image/heic": "heic",
  "image/tiff": "tif",
  "image/bmp": "bmp",
  "image/vnd.microsoft.icon": "ico",
  "image/jxl": "jxl",
};

const extOfName = (name: string) => {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
};

/** `cdnBase`: where this tenant's images are delivered (imgd's CDN route or its custom domain). */
export function imageSchema(cdnBase: string, user: User, img: ImageRecord | undefined, up: ImgwireUpload | undefined) {
  const id = img?.id ?? up!.id;
  const path = img
    ? (img.paths[0] ?? `${img.id}.${img.format}`)
    : `${id}.${MIME_EXT[up!.declared_mime ?? ""] ?? (extOfName(up!.file_name) || "jpg")}`;
  const mime = img ? imgwireMime(img.mime_type) : (up!.declared_mime ?? "image/jpeg");
  const custom = up ? up.custom_metadata : img ? customFieldsOf(img.metadata) : {};
  return {
    id,
    environment_id: user.id,
    upload_token_id: up?.upload_token_id ?? null,
    original_filename: img?.original_filename ?? up!.file_name,
    hash_sha256: img?.blob_hash ?? up?.declared_hash ?? null,
    status: img ? "READY" : up!.status,
    cdn_url: `${cdnBase}/${encodeURI(path)}`,
    mime_type: mime,
    can_upload: !img && up?.status === "PENDING",
    is_directly_deliverable: img ? WEB_FORMATS.has(img.format) : false,
    idempotency_key: up?.idempotency_key ?? null,
    purpose: up?.purpose ?? null,
    extension: img ? (EXT[img.format] ?? img.format) : (MIME_EXT[mime] ?? "jpg"),
    width: img?.width ?? 0,
    height: img?.height ?? 0,
    size_bytes: img?.size ?? up?.declared_length ?? 0,
    custom_metadata: custom,
    exif_data: up ? up.exif_data : {},
    created_at: iso(img?.created_at ?? up!.created_at),
    updated_at: iso(Math.max(img?.updated_at ?? 0, up?.updated_at ?? 0)),
    deleted_at: null,
    processed_metadata_at: img ? iso(up?.processed_metadata_at ?? img.created_at) : null,
    // imgd's own: the ThumbHash of a blurred preview (null until the image is stored).
    thumbhash: img?.thumbhash ?? null,
  };
}

export function keyItem(key: ApiKey) {
  const extras = keyExtras(key);
  const client = clientOptions(key);
  return {
    id: key.id,
    environment_id: key.user_id,
    name: key.name,
    key_type: key.kind === "client" ? "CLIENT" : "SERVER",
    client_key: client?.client_key ?? null,
    server_key: null as string | null,
    server_key_last4: key.kind === "client" ? null : key.last4,
    allow_unsigned_upload: client?.allow_unsigned_upload ?? null,
    maximum_upload_bytes: client?.maximum_upload_bytes ?? null,
    allowed_mime_types: client?.allowed_mime_types ?? null,
    maximum_pending_uploads: client?.maximum_pending_uploads ?? null,
    scopes: extras.scopes ?? key.scopes.split(","),
    // imgd's addition: a key made by a key never outlives it, so the answer says when it ends.
    expires_at: key.expires_at === null ? null : iso(key.expires_at),
    created_at: iso(key.created_at),
    updated_at: iso(extras.updated_at ?? key.created_at),
  };
}

export const environmentSchema = (u: User, caller: User) => ({
  id: u.id,
  organization_id: null,
  name: u.display_name ?? u.username,
  default: u.id === caller.id,
  created_at: iso(u.created_at),
  updated_at: iso(u.updated_at),
});

export const corsSchema = (o: ImgwireCorsOrigin) => ({
  id: o.id,
  environment_id: o.user_id,
  pattern: o.pattern,
  created_at: iso(o.created_at),
  updated_at: iso(o.updated_at),
});

export const tokenSchema = (t: ImgwireToken, token: string) => ({
  id: t.id,
  environment_id: t.user_id,
  used_at: isoOrNull(t.used_at),
  expires_at: iso(t.expires_at),
  created_at: iso(t.created_at),
  updated_at: iso(t.updated_at),
  token,
});

export const downloadSchema = (j: ImgwireDownload, url: string | null) => ({
  id: j.id,
  environment_id: j.user_id,
  status: j.status,
  image_ids: j.image_ids,
  download_url: url,
  created_at: iso(j.created_at),
  updated_at: iso(j.updated_at),
});

/**
 * Imgwire's domain record. Domain control is proved with a TXT record (not a CNAME, whatever
 * the field is called): `dcv_cname_record` is its name, `dcv_cname_value` the token naming this
 * environment and host; the same token may instead be served at http://<host>/.well-known/imgd-challenge.
 */
export function domainSchema(d: ImgwireDomain, publicHost: string, proofToken: string) {
  return {
    id: d.id,
    environment_id: d.user_id,
    hostname: d.hostname,
    cname_record: d.hostname,
    cname_value: publicHost,
    dcv_cname_record: `_imgd-challenge.${d.hostname}`,
    dcv_cname_value: proofToken,
    // imgd does not issue certificates: TLS is the operator's proxy's business.
    certificate_status: d.status === "CONNECTED" ? "ACTIVE" : d.status === "FAILED" ? "FAILING" : "PENDING",
    status: d.status,
    last_verified_at: isoOrNull(d.last_verified_at),
    created_at: iso(d.created_at),
    updated_at: iso(d.updated_at),
  };
}
