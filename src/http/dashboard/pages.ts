import type { Hono } from "hono";
import { gzipSync } from "node:zlib";
import { assets, entry } from "../../../web/dist/bundle.gen.ts";
import type { AppEnv } from "../env.ts";

// The dashboard's pages and assets, from the bundle scripts/build-web.ts generates (a module,
// so the compiled binary, Bun and Deno all carry it without reading a file). Every page route
// answers the same small HTML document; the client renders the page the path names.

/** First path segments that are dashboard pages (the client's router knows the rest). */
export const PAGES = [
  "login",
  "setup",
  "signup",
  "library",
  "upload",
  "image",
  "keys",
  "presets",
  "webhooks",
  "settings",
  "account",
  "usage",
  "environments",
  "admin",
  "uploaders",
];

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function page(base: string): string {
  return `<!doctype html>
<html lang="en" data-base="${esc(base)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>imgd</title>
<link rel="icon" href="${esc(base)}/assets/${entry.icon}">
<link rel="stylesheet" href="${esc(base)}/assets/${entry.style}">
<script type="module" src="${esc(base)}/assets/${entry.script}"></script>
</head>
<body>
<div id="app"><noscript>imgd's dashboard needs JavaScript. The API works without it: see /openapi.json or the README.</noscript></div>
</body>
</html>
`;
}

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' data: blob: https: http:; script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
};

export function mountDashboard(app: Hono<AppEnv>) {
  const gzipped = new Map<string, Uint8Array>();
  const html = (c: import("hono").Context<AppEnv>) => {
    c.header("cache-control", "no-store");
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
    return c.html(page(c.var.services.config.basePath));
  };
  app.get("/", html);
  for (const p of PAGES) {
    app.get(`/${p}`, html);
    app.get(`/${p}/*`, html);
  }
  app.get("/assets/:name", (c) => {
    const name = c.req.param("name");
    const asset = Object.hasOwn(assets, name) ? assets[name] : undefined;
    if (!asset) return c.notFound();
    const headers: Record<string, string> = {
      "content-type": asset.type,
      // Names carry a content hash: a new build is a new name.
      "cache-control": "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
      vary: "Accept-Encoding",
    };
    if (/\bgzip\b/.test(c.req.header("accept-encoding") ?? "")) {
      let gz = gzipped.get(name);
      if (!gz) {
        gz = gzipSync(asset.body, { level: 9 });
        gzipped.set(name, gz);
      }
      return new Response(gz as BodyInit, { headers: { ...headers, "content-encoding": "gzip" } });
    }
    return new Response(asset.body, { headers });
  });
}
