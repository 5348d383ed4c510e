import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { makeImage } from "../helpers/images.ts";
import { openapiValidator } from "../helpers/openapi.ts";
import { REFERENCE, type TestServer, form, startServer } from "../helpers/server.ts";

// Every native route's responses, success and error, validated against img-src's published
// OpenAPI document: what its official SDK checks every response against.

const check = openapiValidator(join(REFERENCE, "img-src/openapi.json"));
let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(() => s.stop());

async function call(method: string, docPath: string, url: string, init: RequestInit & { key?: string | null } = {}) {
  const res = await s.api(url, { method, ...init });
  const body = await res.json();
  expect(check(method, docPath, res.status, body)).toBe(true);
  return { status: res.status, body: body as any };
}

test("every native route answers in the document's shapes", async () => {
  expect((await call("GET", "/health", "/health", { key: null })).status).toBe(200);

  const up = await call("POST", "/api/v1/images", "/api/v1/images", {
    body: form({ file: { bytes: await makeImage(120, 90, "jpg"), filename: "doc.jpg" }, target_path: "docs" }),
  });
  expect(up.status).toBe(201);
  const dup = await call("POST", "/api/v1/images", "/api/v1/images", {
    body: form({
      file: { bytes: await makeImage(120, 90, "jpg"), filename: "doc.jpg" },
      target_path: "docs/again.jpg",
    }),
  });
  expect(dup.body.is_new).toBe(false);
  const id = up.body.id;

  expect((await call("GET", "/api/v1/images", "/api/v1/images?limit=10")).body.total).toBe(1);
  expect((await call("GET", "/api/v1/images", "/api/v1/images?path=docs")).body.total).toBe(1);
  expect((await call("GET", "/api/v1/images/search", "/api/v1/images/search?q=doc")).body.total).toBe(1);
  expect((await call("GET", "/api/v1/images/:id", `/api/v1/images/${id}`)).body.id).toBe(id);
  await call("PATCH", "/api/v1/images/:id/visibility", `/api/v1/images/${id}/visibility`, {
    body: JSON.stringify({ visibility: "private" }),
  });
  await call("POST", "/api/v1/images/:id/signed-url", `/api/v1/images/${id}/signed-url`, {
    body: JSON.stringify({ expires_in_seconds: 600 }),
  });
  const listed = await call("GET", "/api/v1/images", "/api/v1/images");
  expect(listed.body.images[0].active_signed_url.expires_at).toBeGreaterThan(0);

  await call("GET", "/api/v1/settings", "/api/v1/settings");
  await call("PUT", "/api/v1/settings", "/api/v1/settings", {
    body: JSON.stringify({ default_quality: 70, default_max_width: 1920 }),
  });
  await call("PUT", "/api/v1/settings", "/api/v1/settings", { body: JSON.stringify({ default_max_width: null }) });

  const preset = await call("POST", "/api/v1/settings/presets", "/api/v1/settings/presets", {
    body: JSON.stringify({ name: "card", params: { w: 400, h: 300, fit: "cover" } }),
  });
  expect(preset.status).toBe(201);
  await call("POST", "/api/v1/settings/presets", "/api/v1/settings/presets", {
    body: JSON.stringify({ name: "card", params: {} }),
  });
  await call("GET", "/api/v1/settings/presets", "/api/v1/settings/presets");
  await call("GET", "/api/v1/settings/presets/:id", `/api/v1/settings/presets/${preset.body.id}`);
  await call("PUT", "/api/v1/settings/presets/:id", `/api/v1/settings/presets/${preset.body.id}`, {
    body: JSON.stringify({ description: null }),
  });
  await call("DELETE", "/api/v1/settings/presets/:name", "/api/v1/settings/presets/card");

  await call("GET", "/api/v1/usage", "/api/v1/usage");
  const pathDel = await call(
    "DELETE",
    "/api/v1/images/path/:username/{filepath}",
    `/api/v1/images/path/admin/${encodeURIComponent("docs/again.jpg")}`,
  );
  expect(pathDel.body.remaining_paths).toEqual(["docs/doc.jpg"]);
  await call("DELETE", "/api/v1/images/:id", `/api/v1/images/${id}`);

  // Errors in the documented error shape.
  await call("GET", "/api/v1/settings", "/api/v1/settings", { key: null });
  await call("GET", "/api/v1/images/:id", `/api/v1/images/${id}`);
  await call("GET", "/api/v1/images/search", "/api/v1/images/search");
  await call("POST", "/api/v1/images", "/api/v1/images", {
    body: form({ file: { bytes: new Uint8Array(10), filename: "x.jpg" } }),
  });
  await call("PUT", "/api/v1/settings", "/api/v1/settings", { body: JSON.stringify({ default_quality: 500 }) });
});
