import type { TokenCheck, Tokens } from "../tokens/tokens.ts";

// Signed delivery URLs: a token over the user, the path (its extension names the output
// format), a canonical form of every other query option, and the expiry. So any variant of a
// private image can be signed; the options may come in any order, but adding, dropping or
// changing one (or the time) breaks the token. The URL carries `token` and `expires`, or
// img-src's own spelling `sig` and `exp`.

/** The query keys that carry the signature rather than an option. */
export const SIGNATURE_KEYS: readonly string[] = ["token", "expires", "sig", "exp"];

/** The options a token covers, in one spelling: signature keys dropped, sorted by key then value. */
export function canonicalOptions(params: URLSearchParams): string {
  const rest = [...params]
    .filter(([k]) => !SIGNATURE_KEYS.includes(k))
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : av > bv ? 1 : 0) : a < b ? -1 : 1));
  return new URLSearchParams(rest).toString();
}

/** The token and expiry a URL carries, by either spelling. */
export function signatureOf(params: URLSearchParams): { token: string | null; expires: string | null } {
  return { token: params.get("token") ?? params.get("sig"), expires: params.get("expires") ?? params.get("exp") };
}

/** Which dialect a signature is for: the same options mean different things in each. */
export type SignaturePurpose = "delivery-url" | "imgwire-cdn-url";

export function sign(
  tokens: Tokens,
  username: string,
  path: string,
  params: URLSearchParams,
  expires: number,
  purpose: SignaturePurpose = "delivery-url",
): string {
  return tokens.signExpiring(purpose, [username, path, canonicalOptions(params)], expires);
}

export type SignatureCheck = TokenCheck;

export function verify(
  tokens: Tokens,
  username: string,
  path: string,
  params: URLSearchParams,
  purpose: SignaturePurpose = "delivery-url",
): SignatureCheck {
  const { token, expires } = signatureOf(params);
  return tokens.checkExpiring(purpose, [username, path, canonicalOptions(params)], expires, token);
}
