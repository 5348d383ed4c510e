import type { User } from "../../domain/records.ts";
import type { ImageRecord } from "../../domain/images.ts";
import { parseMetadata, RESERVED } from "../../domain/media-fields.ts";
import { cdnUrl } from "../native/shape.ts";

// img.pro's media item: optional fields are left out when they do not apply, custom fields
// sit at the top level, times are Unix seconds.

const unix = (ms: number) => Math.floor(ms / 1000);

export const viewerUrl = (base: string, id: string) => `${base}/p/${id}`;

export const isPagePublic = (img: ImageRecord) => img.page_public === 1 && img.visibility === "public";

export function mediaItem(base: string, owner: User, img: ImageRecord, opts: { editable: boolean }) {
  const custom = Object.fromEntries(Object.entries(parseMetadata(img.metadata)).filter(([k]) => !RESERVED.has(k)));
  return {
    id: img.id,
    name: img.original_filename,
    ...(isPagePublic(img) ? { url: viewerUrl(base, img.id) } : {}),
    src: cdnUrl(base, owner.username, img.paths[0] ?? img.sanitized_filename),
    width: img.width,
    height: img.height,
    filesize: img.size,
    ...(opts.editable ? { editable: true } : {}),
    ...(img.tags.length ? { tags: img.tags } : {}),
    ...(img.namespace ? { namespace: img.namespace } : {}),
    ...(img.display_date ? { date: img.display_date } : {}),
    ...(img.external_id ? { external_id: img.external_id } : {}),
    ...custom,
    ...(img.source_url ? { source_url: img.source_url } : {}),
    ...(img.expires_at !== null ? { expires_at: unix(img.expires_at) } : {}),
    created_at: unix(img.created_at),
  };
}

export const upgradeHint = (base: string) => ({
  type: "register",
  url: `${base}/v1/keys`,
  message: "Get an API key for permanent storage and 100 uploads/month",
  label: "Create API Key",
});
