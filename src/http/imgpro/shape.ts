import type { User } from "../../domain/records.ts";
import type { ImageRecord } from "../../domain/library/images.ts";
import { customFieldsOf, RESERVED } from "../../domain/library/fields.ts";
import { cdnUrl } from "../native/shape.ts";

// img.pro's media item: optional fields are left out when they do not apply, custom fields
// sit at the top level, times are Unix seconds.

const unix = (ms: number) => Math.floor(ms / 1000);

export const viewerUrl = (base: string, id: string) => `${base}/p/${id}`;

export const isPagePublic = (img: ImageRecord) => img.page_public === 1 && img.visibility === "public";

/** img.pro's `?size=` short edges; a size is listed only when it is smaller than the original. */
const SIZES = { s: 320, m: 640, l: 1080 } as const;

function sizesOf(src: string, width: number, height: number) {
  const short = Math.min(width, height);
  const out: Record<string, { url: string; width: number; height: number }> = {};
  for (const [name, edge] of Object.entries(SIZES)) {
    if (short <= edge) continue;
    const scale = edge / short;
    out[name] = {
      url: `${src}?size=${name}`,
      width: width <= height ? edge : Math.max(1, Math.round(width * scale)),
      height: width <= height ? Math.max(1, Math.round(height * scale)) : edge,
    };
  }
  return Object.keys(out).length ? { sizes: out } : {};
}

export function mediaItem(base: string, owner: User, img: ImageRecord, opts: { editable: boolean }) {
  const custom = Object.fromEntries(Object.entries(customFieldsOf(img.metadata)).filter(([k]) => !RESERVED.has(k)));
  const src = cdnUrl(base, owner.username, img.paths[0] ?? img.sanitized_filename);
  return {
    id: img.id,
    name: img.original_filename,
    ...(isPagePublic(img) ? { url: viewerUrl(base, img.id) } : {}),
    src,
    width: img.width,
    height: img.height,
    filesize: img.size,
    // reference/002: `status` ("processing" or "failed") appears only on an item that is not
    // ready. imgd answers an upload only once the image is stored and decoded, so never.
    ...(opts.editable ? { editable: true } : {}),
    ...(img.tags.length ? { tags: img.tags } : {}),
    ...(img.namespace ? { namespace: img.namespace } : {}),
    ...(img.display_date ? { date: img.display_date } : {}),
    ...(img.external_id ? { external_id: img.external_id } : {}),
    ...custom,
    ...(img.source_url ? { source_url: img.source_url } : {}),
    ...(img.expires_at !== null ? { expires_at: unix(img.expires_at) } : {}),
    created_at: unix(img.created_at),
    // imgd's own: the ThumbHash of a blurred preview, and that preview as a tiny PNG.
    thumbhash: img.thumbhash,
    placeholder: `${src}?placeholder`,
    ...sizesOf(src, img.width, img.height),
  };
}

/** The page an upgrade, a sign-up or a verification leads to: the dashboard's sign-up. */
export const signupUrl = (base: string) => `${base}/signup`;

export const upgradeHint = (base: string) => ({
  type: "register",
  url: signupUrl(base),
  message: "Get an API key for permanent storage and 100 uploads/month",
  label: "Create API Key",
});
