// Headers every answer carries, set in one place after routing so that no delivery shape
// (native, Imgwire, IPX, Cloudflare, Next.js, imgix, placeholders, originals, downloads, the
// cached fast path, 304s) can miss them:
// - X-Content-Type-Options: nosniff, so a browser never runs a stored file as something other
//   than its declared type (an image sniffed as HTML or script);
// - on anything that is not an HTML page of ours, a CSP that allows nothing to run: an SVG
//   (or any file) opened directly as a document gets no scripts, no requests, a sandbox.
//   HTML pages bring their own policy (the dashboard and /docs need scripts; /p/ needs none);
//   one that does not gets the strict one too.

export const STRICT_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

export function withSafetyHeaders(res: Response): Response {
  try {
    apply(res.headers);
    return res;
  } catch {
    // Immutable headers (Response.redirect, a fetched response): the same answer, own headers.
    const copy = new Response(res.body, res);
    apply(copy.headers);
    return copy;
  }
}

function apply(h: Headers) {
  if (!h.has("x-content-type-options")) h.set("X-Content-Type-Options", "nosniff");
  if (!h.has("content-security-policy")) h.set("Content-Security-Policy", STRICT_CSP);
}
