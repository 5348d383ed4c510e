import type { TokenCheck, Tokens } from "../tokens/tokens.ts";

// Signed delivery URLs: a token over the user, the path, every other query option and the
// expiry, so changing any of them (or the time) breaks it. The URL carries `token` and `expires`.

/** The query without token/expires, sorted: the options the token covers, in one spelling. */
function options(params: URLSearchParams): string {
  const rest = [...params]
    .filter(([k]) => k !== "token" && k !== "expires")
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1));
  return new URLSearchParams(rest).toString();
}

export function sign(tokens: Tokens, username: string, path: string, params: URLSearchParams, expires: number): string {
  return tokens.signExpiring("delivery-url", [username, path, options(params)], expires);
}

export type SignatureCheck = TokenCheck;

export function verify(tokens: Tokens, username: string, path: string, params: URLSearchParams): SignatureCheck {
  return tokens.checkExpiring(
    "delivery-url",
    [username, path, options(params)],
    params.get("expires"),
    params.get("token"),
  );
}
