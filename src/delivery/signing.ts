import { createHmac, timingSafeEqual } from "node:crypto";

// Signed delivery URLs: HMAC-SHA256 over the user, the path, every other query option and the
// expiry, so changing any of them (or the time) breaks the token.

function payload(username: string, path: string, params: URLSearchParams, expires: string): string {
  const rest = [...params].filter(([k]) => k !== "token" && k !== "expires").sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1));
  return `${username}\n${path}\n${new URLSearchParams(rest).toString()}\n${expires}`;
}

export function sign(secret: Uint8Array, username: string, path: string, params: URLSearchParams, expires: number): string {
  return createHmac("sha256", secret).update(payload(username, path, params, String(expires))).digest("base64url");
}

export type SignatureCheck = "valid" | "missing" | "expired" | "invalid";

export function verify(secret: Uint8Array, username: string, path: string, params: URLSearchParams, nowMs: number): SignatureCheck {
  const token = params.get("token");
  const expires = params.get("expires");
  if (!token || !expires) return "missing";
  if (!/^\d{1,12}$/.test(expires)) return "invalid";
  const expected = Buffer.from(createHmac("sha256", secret).update(payload(username, path, params, expires)).digest("base64url"));
  const given = Buffer.from(token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "invalid";
  return Number(expires) * 1000 > nowMs ? "valid" : "expired";
}
