import { afterAll, beforeAll, expect, test } from "bun:test";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import { gunzipSync } from "node:zlib";
import pkg from "../../package.json" with { type: "json" };
import { buildApp } from "../../src/http/app.ts";
import { PAGES } from "../../src/http/dashboard/pages.ts";
import type { AppServices } from "../../src/http/env.ts";
import { imgwireApp } from "../../src/http/imgwire/app.ts";
import { ALL_OPS, routeOf } from "../../src/http/openapi/document.ts";
import { ROOT, type TestServer, startServer } from "../helpers/server.ts";

// imgd's own API document: valid OpenAPI 3.1, complete (every registered route), the same as
// the reviewed copy in reference/, and served with its interactive reference and llms.txt.

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(() => s.stop());

/** Routes that are pages of the dashboard, not API: the client renders them. */
const notApi = (method: string, path: string) =>
  method === "GET" &&
  (path === "/" || path === "/assets/:name" || PAGES.some((p) => path === `/${p}` || path === `/${p}/*`));

/** Every route the app registers, Imgwire's sub-app included, as "METHOD /path". */
function registeredRoutes(): Set<string> {
  // Building the routers needs no running service: only the Imgwire mount is read.
  const services = { config: { imgwireMount: "/imgwire" }, accessLog: { enabled: false } } as unknown as AppServices;
  const out = new Set<string>();
  for (const r of [...buildApp(services).routes, ...imgwireApp(services).routes]) {
    if (r.method === "ALL" || notApi(r.method, r.path)) continue;
    out.add(`${r.method} ${r.path}`);
  }
  return out;
}

test("/openapi.json is valid OpenAPI 3.1 and follows package.json's version", async () => {
  const res = await s.api("/openapi.json", { key: null });
  expect(res.status).toBe(200);
  const doc = await res.json();
  expect(doc.openapi).toBe("3.1.0");
  expect(doc.info.version).toBe(pkg.version);
  const config = await createConfig({ extends: ["spec"] });
  const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: "/openapi.json", config });
  expect(problems.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)).toEqual([]);
  expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["bearerKey", "clientKey", "sessionCookie"]);
  expect(doc.tags.map((t: { name: string }) => t.name)).toEqual(
    expect.arrayContaining(["native", "img.pro", "Imgwire", "AssetsRepo", "dashboard"]),
  );
  // A route's request schema is the one it validates with: the upload form and the list query.
  expect(
    doc.paths["/api/v1/images"].post.requestBody.content["multipart/form-data"].schema.properties.file.format,
  ).toBe("binary");
  const sort = doc.paths["/api/v1/images"].get.parameters.find((p: { name: string }) => p.name === "sort");
  expect(sort.schema.enum).toEqual(["newest", "oldest", "name", "size"]);
});

test("every registered route is in the served document, and every documented one is registered", async () => {
  const served = await (await s.api("/openapi.json", { key: null })).json();
  // A route is documented when an operation names it and /openapi.json carries that operation.
  const documented = new Set(
    ALL_OPS.filter((op) => served.paths[op.path]?.[op.method]?.operationId === op.operationId).map(
      (op) => `${op.method.toUpperCase()} ${routeOf(op)}`,
    ),
  );
  expect(documented.size).toBe(ALL_OPS.length);
  const registered = registeredRoutes();
  const missing = [...registered].filter((r) => !documented.has(r));
  if (missing.length)
    throw new Error(
      `These routes are not in imgd's API document:\n  ${missing.join("\n  ")}\n` +
        "Describe each in src/http/openapi/<dialect>.ts (its request schemas, a valibot response schema, a summary), " +
        "then run npm run openapi and review reference/imgd.openapi.json.",
    );
  const stale = [...documented].filter((r) => !registered.has(r));
  expect(stale).toEqual([]);
  expect(registered.size).toBeGreaterThan(90);
});

test("the committed reference/imgd.openapi.json, client types and Swagger UI module are current", async () => {
  const proc = Bun.spawn([process.execPath, "scripts/openapi.ts", "--check"], { cwd: ROOT, stderr: "pipe" });
  const err = await new Response(proc.stderr).text();
  if ((await proc.exited) !== 0)
    throw new Error(
      `${err}The API changed without review: run \`npm run openapi\`, read the diff of reference/imgd.openapi.json and commit it.`,
    );
});

test("/api-reference/openapi.json is the native part, where img-src publishes its document", async () => {
  const doc = await (await s.api("/api-reference/openapi.json", { key: null })).json();
  const paths = Object.keys(doc.paths);
  expect(paths).toContain("/api/v1/images");
  expect(paths).toContain("/i/{username}/{path}");
  expect(paths.some((p) => p.startsWith("/v1/") || p.startsWith("/imgwire"))).toBe(false);
});

test("/llms.txt lists every operation of the document", async () => {
  const res = await s.api("/llms.txt", { key: null });
  expect(res.headers.get("content-type")).toStartWith("text/plain");
  const text = await res.text();
  const doc = await (await s.api("/openapi.json", { key: null })).json();
  for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths))
    for (const method of Object.keys(item)) expect(text).toContain(`${method.toUpperCase()} ${path}:`);
  expect(text).toContain(`${s.url}/openapi.json`);
});

test("/docs is served from embedded assets only", async () => {
  const res = await s.api("/docs", { key: null });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
  const html = await res.text();
  const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  expect(refs.length).toBeGreaterThanOrEqual(4);
  for (const ref of refs) {
    expect(ref).toStartWith("/");
    const a = await s.api(ref, { key: null, headers: { "accept-encoding": "identity" } });
    expect(a.status).toBe(200);
    expect((await a.arrayBuffer()).byteLength).toBeGreaterThan(100);
  }
  const gz = await s.api("/docs/assets/swagger-ui-bundle.js", {
    key: null,
    headers: { "accept-encoding": "gzip" },
    decompress: false,
  } as RequestInit);
  expect(gz.headers.get("content-encoding")).toBe("gzip");
  expect(gunzipSync(new Uint8Array(await gz.arrayBuffer())).toString("utf8")).toContain("SwaggerUIBundle");
  expect((await s.api("/docs/assets/nope.js", { key: null })).status).toBe(404);
});

test("the document follows where the server mounts Imgwire and the base path it is served under", async () => {
  const other = await startServer({ env: { IMGD_IMGWIRE_MOUNT: "/iw", IMGD_BASE_PATH: "/imgd" } });
  try {
    const doc = await (await fetch(`${other.url}/imgd/openapi.json`)).json();
    expect(doc.servers).toEqual([{ url: "/imgd" }]);
    expect(Object.keys(doc.paths)).toContain("/iw/api/v1/images/");
    expect(Object.keys(doc.paths).some((p) => p.startsWith("/imgwire"))).toBe(false);
    const html = await (await fetch(`${other.url}/imgd/docs`)).text();
    expect(html).toContain('src="/imgd/docs/assets/swagger-ui-bundle.js"');
  } finally {
    await other.stop();
  }
});
