import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { AppError } from "../errors.ts";

// The signatures of the URL shapes imgd speaks for tools people move from, each made exactly as
// that tool makes it, so their builders' URLs verify unchanged. They prove the operator (who
// holds the key) wrote the URL; who may see the image is still the access rule's to say.

export interface ImgproxySigning {
  /** Hex, as IMGPROXY_KEY and IMGPROXY_SALT. */
  key?: string;
  salt?: string;
  /** Bytes of the HMAC kept (IMGPROXY_SIGNATURE_SIZE). */
  size: number;
  /** `insecure` URLs are accepted. */
  insecure: boolean;
}

/** imgproxy: base64url(HMAC-SHA256(key, salt + path)), truncated to `size` bytes. */
export function checkImgproxySignature(signature: string, signedPath: string, s: ImgproxySigning): void {
  if (signature === "insecure") {
    if (s.insecure) return;
    throw forbidden("imgproxy: unsigned (insecure) URLs are not accepted here; sign the URL");
  }
  if (!s.key || !s.salt)
    throw forbidden("imgproxy: no signing key is set on this server (IMGD_IMGPROXY_KEY, IMGD_IMGPROXY_SALT)");
  const mac = createHmac("sha256", Buffer.from(s.key, "hex"))
    .update(Buffer.from(s.salt, "hex"))
    .update(signedPath)
    .digest()
    .subarray(0, s.size);
  if (!sameText(signature, mac.toString("base64url"))) throw forbidden("imgproxy: invalid signature");
}

/** thumbor: base64url(HMAC-SHA1(key, path)), padding kept, as libthumbor writes it. */
export function checkThumborSignature(
  signature: string,
  signedPath: string,
  key: string | undefined,
  unsafe: boolean,
): void {
  if (signature === "unsafe") {
    if (unsafe) return;
    throw forbidden("thumbor: unsafe URLs are not accepted here; sign the URL");
  }
  if (!key) throw forbidden("thumbor: no security key is set on this server (IMGD_THUMBOR_KEY)");
  const mac = createHmac("sha1", key).update(signedPath).digest("base64url");
  // libthumbor keeps base64's `=` padding; some builders drop it.
  if (!sameText(signature.replace(/=+$/, ""), mac)) throw forbidden("thumbor: invalid signature");
}

/**
 * imgix: `s` = md5(token + path + "?" + the query before `s`), as @imgix/js-core's
 * secureURLToken makes it; the path and query exactly as the URL writes them.
 */
export function checkImgixSignature(token: string, rawPath: string, rawQuery: string): void {
  const parts = rawQuery.split("&").filter((p) => p !== "");
  const given = parts.filter((p) => p.startsWith("s="));
  if (given.length !== 1) throw forbidden("imgix: this server signs imgix URLs; the URL needs its s= signature");
  const rest = parts.filter((p) => !p.startsWith("s=")).join("&");
  const want = createHash("md5")
    .update(token + rawPath + (rest ? `?${rest}` : ""))
    .digest("hex");
  if (!sameText(given[0]!.slice(2).toLowerCase(), want)) throw forbidden("imgix: invalid signature");
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const forbidden = (message: string) => new AppError("FORBIDDEN", message);
