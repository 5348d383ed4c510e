import { createHmac, timingSafeEqual } from "node:crypto";

// Every signed thing imgd hands out (signed delivery URLs, list cursors, upload and download
// URLs, the custom-domain proof) is made and checked here, with one secret. The purpose is
// part of the MAC, so a token made for one kind of thing never verifies as another, even where
// the fields happen to look alike.

/** The kinds of token, each with the wire encoding its clients already see. */
export const TOKEN_KINDS = {
  /** `?token=` of a signed image URL (with `expires`): 43 base64url characters. */
  "delivery-url": { bytes: 32, encoding: "base64url" },
  /** `?token=` of a signed Imgwire CDN URL (with `expires`): as a delivery URL's, for the other dialect. */
  "imgwire-cdn-url": { bytes: 32, encoding: "base64url" },
  /** The MAC part of an img.pro list cursor (`payload.mac`): 22 base64url characters. */
  "imgpro-cursor": { bytes: 16, encoding: "base64url" },
  /** `?signature=` of an Imgwire presigned upload URL (with `expires`): 64 hex digits. */
  "imgwire-upload-url": { bytes: 32, encoding: "hex" },
  /** `?signature=` of an Imgwire bulk-download ZIP URL (with `expires`): 64 hex digits. */
  "imgwire-download-url": { bytes: 32, encoding: "hex" },
  /** The custom-domain proof a tenant publishes (for its environment id and the host): 32 hex digits. */
  "domain-claim": { bytes: 16, encoding: "hex" },
} as const satisfies Record<string, { bytes: number; encoding: "base64url" | "hex" }>;

export type TokenPurpose = keyof typeof TOKEN_KINDS;

export type TokenCheck = "valid" | "missing" | "expired" | "invalid";

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const HEX = /^[0-9a-f]*$/;
const EXPIRES = /^\d{1,12}$/;

/**
 * Decodes only the one canonical spelling of `bytes` bytes: the exact length, the exact
 * alphabet (lower-case hex; base64url without padding) and, for base64url, zero in the unused
 * low bits of the last character. Anything else is null, so no two strings verify as one token.
 */
export function decodeCanonical(text: string, bytes: number, encoding: "base64url" | "hex"): Uint8Array | null {
  if (encoding === "hex") {
    if (text.length !== bytes * 2 || !HEX.test(text)) return null;
    return Buffer.from(text, "hex");
  }
  if (text.length !== Math.ceil((bytes * 4) / 3) || !BASE64URL.test(text)) return null;
  const decoded = Buffer.from(text, "base64url");
  if (decoded.length !== bytes || decoded.toString("base64url") !== text) return null;
  return decoded;
}

export class Tokens {
  constructor(
    private readonly secret: Uint8Array,
    private readonly now: () => number,
  ) {}

  #mac(purpose: TokenPurpose, fields: readonly string[]): Buffer {
    // JSON of the list: unambiguous whatever the fields contain (no separator to smuggle).
    const full = createHmac("sha256", this.secret)
      .update(JSON.stringify(["imgd-token-v1", purpose, ...fields]))
      .digest();
    return full.subarray(0, TOKEN_KINDS[purpose].bytes);
  }

  /** A token binding `fields` to `purpose`. */
  sign(purpose: TokenPurpose, fields: readonly string[]): string {
    return this.#mac(purpose, fields).toString(TOKEN_KINDS[purpose].encoding);
  }

  /** Whether `token` is exactly what `sign(purpose, fields)` gives (compared in constant time). */
  check(purpose: TokenPurpose, fields: readonly string[], token: string | null | undefined): boolean {
    if (typeof token !== "string") return false;
    const { bytes, encoding } = TOKEN_KINDS[purpose];
    const given = decodeCanonical(token, bytes, encoding);
    if (!given) return false;
    return timingSafeEqual(given, this.#mac(purpose, fields));
  }

  /** A token valid until `expires` (Unix seconds), which is bound into the MAC. */
  signExpiring(purpose: TokenPurpose, fields: readonly string[], expires: number): string {
    return this.sign(purpose, [...fields, String(expires)]);
  }

  /** Checks a token from `signExpiring` with the `expires` that came beside it. */
  checkExpiring(
    purpose: TokenPurpose,
    fields: readonly string[],
    expires: string | null | undefined,
    token: string | null | undefined,
  ): TokenCheck {
    if (!token || !expires) return "missing";
    if (!EXPIRES.test(expires)) return "invalid";
    if (!this.check(purpose, [...fields, expires], token)) return "invalid";
    return Number(expires) * 1000 > this.now() ? "valid" : "expired";
  }

  /** `value` and its MAC in one opaque string (`base64url(value).mac`): readable, not forgeable. */
  seal(purpose: TokenPurpose, value: string): string {
    const payload = Buffer.from(value, "utf8").toString("base64url");
    return `${payload}.${this.sign(purpose, [payload])}`;
  }

  /** The value of a sealed string, or null when it was not made by `seal` with this purpose. */
  open(purpose: TokenPurpose, sealed: string): string | null {
    const parts = sealed.split(".");
    if (parts.length !== 2 || !BASE64URL.test(parts[0])) return null;
    if (!this.check(purpose, [parts[0]], parts[1])) return null;
    return Buffer.from(parts[0], "base64url").toString("utf8");
  }
}
