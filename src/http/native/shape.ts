import type { ApiKey, User } from "../../domain/records.ts";
import type { ImageRecord } from "../../domain/library/images.ts";
import { stemOf } from "../../domain/library/paths.ts";
import { customFieldsOf } from "../../domain/library/fields.ts";

// Response shapes of the native (img-src) dialect. Image times are RFC 3339, other times Unix
// seconds; every field the official SDK declares is present (null when there is no value).

export const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
export const unix = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));

/** Output formats a delivery URL can ask for, by the extension it uses. */
export const DELIVERY_EXT = { webp: "webp", avif: "avif", jpeg: "jpg", png: "png", jxl: "jxl" } as const;

export const encodePath = (path: string) => path.split("/").map(encodeURIComponent).join("/");

export function cdnUrl(base: string, username: string, path: string, ext?: string) {
  const p = ext ? `${stemOf(path)}.${ext}` : path;
  return `${base}/i/${encodeURIComponent(username)}/${encodePath(p)}`;
}

const formatUrls = (base: string, username: string, path: string) =>
  Object.fromEntries(Object.entries(DELIVERY_EXT).map(([f, ext]) => [f, cdnUrl(base, username, path, ext)])) as Record<
    keyof typeof DELIVERY_EXT,
    string
  >;

const links = (id: string) => ({ self: `/api/v1/images/${id}`, delete: `/api/v1/images/${id}` });

const primary = (img: ImageRecord) => img.paths[0] ?? img.sanitized_filename;

export function uploadResponse(base: string, user: User, img: ImageRecord, isNew: boolean) {
  return {
    id: img.id,
    hash: img.blob_hash,
    url: cdnUrl(base, user.username, primary(img)),
    paths: img.paths,
    is_new: isNew,
    size: img.size,
    format: img.format,
    dimensions: { width: img.width, height: img.height },
    available_formats: formatUrls(base, user.username, primary(img)),
    uploaded_at: rfc3339(img.created_at),
    visibility: img.visibility,
    ...placeholder(base, user, img),
    _links: links(img.id),
  };
}

/**
 * imgd's own: the image's ThumbHash (base64; clients render it as a blurred preview) and the
 * URL of the same preview as a tiny PNG. Null thumbhash: made on the first request of that URL.
 */
export function placeholder(base: string, user: User, img: ImageRecord) {
  return {
    thumbhash: img.thumbhash,
    placeholder_url: `${cdnUrl(base, user.username, primary(img))}?placeholder`,
  };
}

function activeSignedUrl(img: ImageRecord, now: number) {
  return img.signed_url && img.signed_url_expires_at !== null && img.signed_url_expires_at > now
    ? { signed_url: img.signed_url, expires_at: unix(img.signed_url_expires_at) }
    : null;
}

export function listItem(base: string, user: User, img: ImageRecord, now: number) {
  return {
    id: img.id,
    original_filename: img.original_filename,
    sanitized_filename: img.sanitized_filename,
    size: img.size,
    uploaded_at: rfc3339(img.created_at),
    url: `/api/v1/images/${img.id}`,
    cdn_url: cdnUrl(base, user.username, primary(img), "webp"),
    paths: img.paths,
    visibility: img.visibility,
    active_signed_url: activeSignedUrl(img, now),
    ...placeholder(base, user, img),
    ...library(img),
  };
}

export function metadataResponse(
  base: string,
  user: User,
  img: ImageRecord,
  layout: { frames: number; hasAlpha: boolean },
) {
  return {
    id: img.id,
    metadata: {
      hash: img.blob_hash,
      original_filename: img.original_filename,
      size: img.size,
      uploaded_at: rfc3339(img.created_at),
      mime_type: img.mime_type,
      width: img.width,
      height: img.height,
      dominant_color: img.dominant_color,
      // imgd's own: the schema's ImageMetadata allows more properties.
      frames: layout.frames,
      has_alpha: layout.hasAlpha,
      ...placeholder(base, user, img),
    },
    urls: { original: cdnUrl(base, user.username, primary(img)), ...formatUrls(base, user.username, primary(img)) },
    paths: img.paths,
    visibility: img.visibility,
    /** imgd's own: the URL it was imported from (null: uploaded). */
    source_url: img.source_url,
    ...library(img),
    _links: links(img.id),
  };
}

/** The library fields (set through the img.pro dialect), visible natively too. */
function library(img: ImageRecord) {
  return {
    tags: img.tags,
    namespace: img.namespace,
    custom_metadata: customFieldsOf(img.metadata),
    expires_at: img.expires_at === null ? null : rfc3339(img.expires_at),
  };
}

export function keyItem(k: ApiKey) {
  return {
    id: k.id,
    name: k.name,
    key_prefix: k.key_prefix,
    scopes: k.scopes,
    created_at: unix(k.created_at),
    last_used_at: unix(k.last_used_at),
    expires_at: unix(k.expires_at),
    total_requests: k.total_requests,
  };
}
