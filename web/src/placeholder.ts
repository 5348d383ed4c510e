import { thumbHashToDataURL } from "thumbhash";

/**
 * The blurred preview of an image's ThumbHash (base64, from its metadata) as a CSS background,
 * drawn here without a request; nothing when the image has none yet.
 */
export function placeholderStyle(thumbhash: string | null | undefined): Record<string, string> | undefined {
  if (!thumbhash) return undefined;
  try {
    const bytes = Uint8Array.from(atob(thumbhash), (c) => c.charCodeAt(0));
    return { background: `center / cover no-repeat url(${thumbHashToDataURL(bytes)})` };
  } catch {
    return undefined;
  }
}
