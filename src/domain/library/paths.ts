import { invalid } from "../errors.ts";

// A path alias is what follows /i/{username}/ in a delivery URL: folders and a file name.

const SEGMENT = /^[\p{L}\p{N}._\-~+()!,]+$/u;
const MAX_PATH = 1024;

const IMAGE_EXTENSIONS = new Set([
  "jpg",
  "jpeg",
  "png",
  "webp",
  "avif",
  "gif",
  "heic",
  "heif",
  "tif",
  "tiff",
  "bmp",
  "ico",
  "svg",
  "jxl",
  "tga",
  "qoi",
  "pnm",
  "ppm",
  "pgm",
  "pbm",
  "pam",
  "pfm",
  "hdr",
  "exr",
]);

export function extensionOf(path: string): string | null {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : null;
}

export function stemOf(path: string): string {
  const ext = extensionOf(path);
  // `.auto` asks for a negotiated format (a delivery URL, never a stored name).
  return ext && (IMAGE_EXTENSIONS.has(ext) || ext === "auto") ? path.slice(0, -(ext.length + 1)) : path;
}

export function folderOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

/** Refuses what could escape the tenant's namespace or break a URL; never rewrites. */
export function validatePath(raw: string, field = "path"): string {
  const fail = (why: string) => invalid(field, why);
  if (raw.length === 0) throw fail("must not be empty");
  if (raw.length > MAX_PATH) throw fail(`longer than ${MAX_PATH} characters`);
  // Checked before the segment rule so the message says what is actually wrong.
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw fail("control characters are not allowed");
  if (raw.includes("\\")) throw fail("backslashes are not allowed; use '/' between folders");
  if (raw.startsWith("/")) throw fail("must be relative (no leading '/')");
  const segments = raw.replace(/\/+$/, "").split("/");
  for (const s of segments) {
    if (s === "") throw fail("empty folder name ('//')");
    if (s === "." || s === "..") throw fail("'.' and '..' are not allowed");
    if (!SEGMENT.test(s)) throw fail(`'${s}' has characters other than letters, digits and . _ - ~ + ( ) ! ,`);
  }
  return segments.join("/");
}

/** A file name made URL-safe: what a client sent becomes something `validatePath` accepts. */
export function sanitizeFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  const cleaned = base
    .normalize("NFKC")
    .replace(/\s+/g, "-")
    .replace(/[^\p{L}\p{N}._\-~+()!,]/gu, "")
    .replace(/^\.+/, "")
    .slice(-200);
  return cleaned && cleaned !== "." && cleaned !== ".." ? cleaned : "image";
}

/**
 * Where an upload lands: an explicit path that names a file is used as it is (`explicit`); one
 * that names a folder (no image extension on its last part) gets the file name appended.
 */
export function uploadPath(
  target: string | undefined,
  filename: string,
  format: string,
): { path: string; explicit: boolean } {
  let name = sanitizeFilename(filename);
  const own = extensionOf(name);
  if (!own || !IMAGE_EXTENSIONS.has(own)) name = `${name}.${format === "jpeg" ? "jpg" : format}`;
  if (!target) return { path: name, explicit: false };
  const path = validatePath(target);
  const ext = extensionOf(path);
  return ext && IMAGE_EXTENSIONS.has(ext) ? { path, explicit: true } : { path: `${path}/${name}`, explicit: false };
}
