import { Hono } from "hono";
import { gunzipSync } from "node:zlib";
import pkg from "../../../package.json" with { type: "json" };
import { swaggerAssets } from "../../../web/dist/swagger.gen.ts";
import type { AppEnv } from "../env.ts";
import { baseUrl } from "../urls.ts";
import { buildDocument } from "./document.ts";
import type { Json } from "./json.ts";
import { llmsTxt } from "./llms.ts";

// /openapi.json, /api-reference/openapi.json (img-src's path, the native part), /llms.txt and
// /docs: Swagger UI from swagger-ui-dist, embedded as a module (web/dist/swagger.gen.ts), so the
// compiled binary serves it with nothing fetched from a CDN.

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function docsPage(base: string): string {
  const a = (name: string) => `${esc(base)}/docs/assets/${name}`;
  return `<!doctype html>
<html lang="en" data-base="${esc(base)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imgd API reference</title>
<link rel="stylesheet" href="${a("swagger-ui.css")}">
<link rel="stylesheet" href="${a("docs.css")}">
</head>
<body>
<p id="imgd-auth" class="imgd-auth" role="status">Checking for a dashboard session…</p>
<div id="swagger-ui"><noscript>The interactive reference needs JavaScript. The document itself: <a href="${esc(base)}/openapi.json">openapi.json</a>.</noscript></div>
<script src="${a("swagger-ui-bundle.js")}"></script>
<script src="${a("docs.js")}"></script>
</body>
</html>
`;
}

// Signed in to the dashboard? Requests go with the session cookie, and state-changing ones
// carry the session's CSRF token; otherwise "Authorize" takes a pasted key.
const DOCS_JS = `"use strict";
(function () {
  var base = document.documentElement.dataset.base || "";
  var csrf = null;
  var note = document.getElementById("imgd-auth");
  fetch(base + "/auth/session", { credentials: "same-origin", headers: { accept: "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (s) {
      csrf = s && s.csrf_token;
      note.textContent = s
        ? "Signed in as " + s.user.username + ": \\u201cTry it out\\u201d uses your dashboard session. Authorize with a key to act as another."
        : "Not signed in: press Authorize and paste an API key (bearerKey), or sign in to the dashboard first.";
    })
    .catch(function () { note.textContent = ""; });
  window.ui = SwaggerUIBundle({
    url: base + "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    withCredentials: true,
    requestInterceptor: function (req) {
      var m = (req.method || "GET").toUpperCase();
      var h = req.headers || (req.headers = {});
      if (csrf && m !== "GET" && m !== "HEAD" && !h.Authorization && !h.authorization) h["X-CSRF-Token"] = csrf;
      return req;
    },
  });
})();
`;

const DOCS_CSS = `.imgd-auth{font:14px/1.4 system-ui,sans-serif;margin:0;padding:.6rem 1rem;background:#eef2fb;color:#16181d;border-bottom:1px solid #d5d9e0}`;

const ASSETS: Record<string, { type: string; body: () => Uint8Array | string }> = {
  "docs.js": { type: "text/javascript; charset=utf-8", body: () => DOCS_JS },
  "docs.css": { type: "text/css; charset=utf-8", body: () => DOCS_CSS },
};

const CSP =
  "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export function openapiRoutes() {
  const cache = new Map<string, Json>();
  const gz = new Map<string, Uint8Array>();
  const documentFor = (c: { var: AppEnv["Variables"] }, native: boolean) => {
    const { basePath, imgwireMount } = c.var.services.config;
    const key = `${native}`;
    let doc = cache.get(key);
    if (!doc) {
      doc = buildDocument({
        version: pkg.version,
        imgwireMount,
        serverUrl: basePath || "/",
        ...(native ? { tags: ["native", "operator"], title: "imgd (native API)" } : {}),
      });
      cache.set(key, doc);
    }
    return doc;
  };
  return new Hono<AppEnv>()
    .get("/openapi.json", (c) => c.json(documentFor(c, false)))
    .get("/api-reference/openapi.json", (c) => c.json(documentFor(c, true)))
    .get("/llms.txt", (c) => {
      c.header("content-type", "text/plain; charset=utf-8");
      return c.body(llmsTxt(documentFor(c, false), baseUrl(c)));
    })
    .get("/docs", (c) => {
      c.header("cache-control", "no-store");
      c.header("content-security-policy", CSP);
      c.header("x-content-type-options", "nosniff");
      return c.html(docsPage(c.var.services.config.basePath));
    })
    .get("/docs/assets/:name", (c) => {
      const name = c.req.param("name");
      const headers: Record<string, string> = { "cache-control": "no-cache", "x-content-type-options": "nosniff" };
      const own = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
      if (own) return new Response(own.body() as BodyInit, { headers: { ...headers, "content-type": own.type } });
      const asset = Object.hasOwn(swaggerAssets, name) ? swaggerAssets[name] : undefined;
      if (!asset) return c.notFound();
      let zipped = gz.get(name);
      if (!zipped) {
        zipped = Uint8Array.from(Buffer.from(asset.gzip, "base64"));
        gz.set(name, zipped);
      }
      headers["content-type"] = asset.type;
      headers.vary = "Accept-Encoding";
      if (/\bgzip\b/.test(c.req.header("accept-encoding") ?? ""))
        return new Response(zipped as BodyInit, { headers: { ...headers, "content-encoding": "gzip" } });
      return new Response(gunzipSync(zipped) as BodyInit, { headers });
    });
}
