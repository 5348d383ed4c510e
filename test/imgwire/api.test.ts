import { afterAll, beforeAll, expect, test } from "bun:test";
import { decode, makeImage } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { client, MOUNT, sha256 } from "./helpers.ts";

let s: TestServer;
let call: ReturnType<typeof client>;
beforeAll(async () => {
  s = await startServer();
  call = client(s);
});
afterAll(() => {
  if (process.env.IW_DEBUG) console.log(s.output().slice(-3000));
  return s.stop();
});

async function upload(bytes: Uint8Array, extra: Record<string, unknown> = {}, key?: string) {
  const created = await call("POST", "/api/v1/images/standard_upload", "/api/v1/images/standard_upload", {
    key,
    json: {
      file_name: "photo.jpg",
      mime_type: "image/jpeg",
      content_length: bytes.length,
      hash_sha256: sha256(bytes),
      ...extra,
    },
  });
  expect(created.status).toBe(200);
  const put = await fetch(created.body.upload_url, {
    method: "PUT",
    body: bytes as BodyInit,
    headers: { "content-type": "image/jpeg" },
  });
  return { created: created.body, put };
}

test("standard upload, get, list with X-* pages, CDN, delete", async () => {
  const jpg = await makeImage(400, 300, "jpg");
  const { created, put } = await upload(jpg, {
    purpose: "avatar",
    custom_metadata: { user: "u1", n: 3, ok: true },
    idempotency_key: "k-1",
  });
  expect(created.image.status).toBe("PENDING");
  expect(created.image.can_upload).toBe(true);
  expect(created.upload_url.startsWith(`${s.url}${MOUNT}/uploads/`)).toBe(true);
  expect(put.status).toBe(200);
  const got = await call("GET", "/api/v1/images/{image_id}", `/api/v1/images/${created.image.id}`);
  expect(got.body).toMatchObject({
    status: "READY",
    width: 400,
    height: 300,
    can_upload: false,
    purpose: "avatar",
    custom_metadata: { user: "u1", n: 3, ok: true },
    hash_sha256: sha256(jpg),
    size_bytes: jpg.length,
    mime_type: "image/jpeg",
  });
  expect(got.body.processed_metadata_at).not.toBeNull();
  // Same idempotency key: the same image, no second one.
  const again = await call("POST", "/api/v1/images/standard_upload", "/api/v1/images/standard_upload", {
    json: { file_name: "other.jpg", idempotency_key: "k-1" },
  });
  expect(again.body.image.id).toBe(created.image.id);

  for (let i = 0; i < 2; i++) await upload(await makeImage(50 + i, 40, "jpg"));
  const page1 = await call("GET", "/api/v1/images/", "/api/v1/images/?limit=2");
  expect(page1.body.length).toBe(2);
  expect(page1.headers.get("x-total-count")).toBe("3");
  expect(page1.headers.get("x-next-page")).toBe("2");
  expect(page1.headers.get("x-prev-page")).toBe("null");
  const page2 = await call("GET", "/api/v1/images/", "/api/v1/images/?limit=2&page=2");
  expect(page2.body.length).toBe(1);
  expect(page2.headers.get("x-next-page")).toBe("null");
  expect((await call("GET", "/api/v1/images/", "/api/v1/images/?limit=500")).status).toBe(422);
  // An upload not yet made (PENDING) is listed too, newest first.
  const pending = await call("POST", "/api/v1/images/standard_upload", "/api/v1/images/standard_upload", {
    json: { file_name: "later.png" },
  });
  const withPending = await call("GET", "/api/v1/images/", "/api/v1/images/?limit=10");
  expect(withPending.headers.get("x-total-count")).toBe("4");
  expect(withPending.body[0]).toMatchObject({ id: pending.body.image.id, status: "PENDING" });
  expect(withPending.body.filter((i: any) => i.status === "READY").length).toBe(3);

  // The CDN URL is absolute and reads Imgwire's parameters.
  const cdn = got.body.cdn_url as string;
  expect(cdn.startsWith(`${s.url}${MOUNT}/cdn/`)).toBe(true);
  const res = await fetch(`${cdn}?w=200&format=auto`, { headers: { accept: "image/webp,*/*" } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("image/webp");
  expect(res.headers.get("vary")).toContain("Accept");
  const d = await decode(new Uint8Array(await res.arrayBuffer()));
  expect([d.format, d.width, d.height]).toEqual(["webp", 200, 150]);
  const jpeg = await fetch(`${cdn}?w=200&format=auto`, { headers: { accept: "image/jpeg" } });
  expect(jpeg.headers.get("content-type")).toBe("image/jpeg");
  // Equal requests in two dialects share one cached variant.
  const native = await fetch(`${s.url}/i/admin/${created.image.id}.webp?w=120&fit=scale-down`);
  expect(native.status).toBe(200);
  const iw = await fetch(`${cdn}?width=120&f=webp`);
  expect(iw.headers.get("etag")).toBe(native.headers.get("etag"));
  expect(iw.headers.get("x-cache")).toBe("HIT");
  const thumb = await fetch(`${cdn}@thumbnail?format=png`);
  expect(await decode(new Uint8Array(await thumb.arrayBuffer()))).toMatchObject({ width: 150, height: 150 });
  const cover = await fetch(`${cdn}?w=100&h=100&resizing_type=force&f=jpg`);
  expect(await decode(new Uint8Array(await cover.arrayBuffer()))).toMatchObject({ width: 100, height: 100 });
  const dpr = await fetch(`${cdn}?w=100&dpr=2&f=png&crop=200:150:nowe&gravity=ce`);
  expect(await decode(new Uint8Array(await dpr.arrayBuffer()))).toMatchObject({ width: 200, height: 150 });
  for (const bad of ["w=1&width=2", "w=abc", "resizing_type=squash", "format=bmp", "blur=0.1", "q=101"]) {
    const r = await fetch(`${cdn}?${bad}`);
    expect(r.status).toBe(400);
    expect(typeof (await r.json()).detail).toBe("string");
  }

  expect((await call("DELETE", "/api/v1/images/{image_id}", `/api/v1/images/${created.image.id}`)).status).toBe(200);
  expect((await call("GET", "/api/v1/images/{image_id}", `/api/v1/images/${created.image.id}`)).status).toBe(404);
  expect((await call("GET", "/api/v1/images/{image_id}", "/api/v1/images/not-a-uuid")).status).toBe(422);
});

test("API keys, environments, CORS origins, custom domain, metrics", async () => {
  const server = await call("POST", "/api/v1/api_keys/", "/api/v1/api_keys/", {
    json: { name: "backend", key_type: "SERVER" },
  });
  expect(server.body.server_key).toMatch(/^imgsrc_/);
  expect(server.body.server_key_last4).toBe(server.body.server_key.slice(-4));
  const clientKey = await call("POST", "/api/v1/api_keys/", "/api/v1/api_keys/", {
    json: {
      name: "web",
      key_type: "CLIENT",
      allow_unsigned_upload: true,
      maximum_upload_bytes: 6000,
      maximum_pending_uploads: 5,
    },
  });
  expect(clientKey.body.client_key).toMatch(/^imgwck_/);
  expect(clientKey.body.server_key).toBeNull();
  const listed = await call("GET", "/api/v1/api_keys/", "/api/v1/api_keys/?key_type=CLIENT");
  expect(listed.body.map((k: any) => k.id)).toEqual([clientKey.body.id]);
  const all = await call("GET", "/api/v1/api_keys/", "/api/v1/api_keys/");
  expect(all.body.every((k: any) => k.server_key === null)).toBe(true);
  await call("GET", "/api/v1/api_keys/{api_key_id}", `/api/v1/api_keys/${clientKey.body.id}`);
  const patched = await call("PATCH", "/api/v1/api_keys/{api_key_id}", `/api/v1/api_keys/${clientKey.body.id}`, {
    json: { allowed_mime_types: ["image/png"] },
  });
  expect(patched.body.allowed_mime_types).toEqual(["image/png"]);
  expect(
    (await call("POST", "/api/v1/api_keys/", "/api/v1/api_keys/", { json: { name: "", key_type: "OTHER" } })).status,
  ).toBe(422);
  // The server key works on the native API too; a client key does not.
  expect((await s.api("/api/v1/images", { key: server.body.server_key })).status).toBe(200);
  expect((await s.api("/api/v1/images", { key: clientKey.body.client_key })).status).toBe(401);
  expect((await call("DELETE", "/api/v1/api_keys/{api_key_id}", `/api/v1/api_keys/${server.body.id}`)).status).toBe(
    200,
  );

  const envs = await call("GET", "/api/v1/environments/", "/api/v1/environments/");
  expect(envs.body.length).toBe(1);
  expect(envs.body[0].default).toBe(true);
  const env = await call("POST", "/api/v1/environments/", "/api/v1/environments/", { json: { name: "staging" } });
  await call("GET", "/api/v1/environments/{environment_id}", `/api/v1/environments/${env.body.id}`);
  expect(
    (
      await call("PATCH", "/api/v1/environments/{environment_id}", `/api/v1/environments/${env.body.id}`, {
        json: { name: "stage" },
      })
    ).body.name,
  ).toBe("stage");
  // An admin key acts on another environment with X-Environment-Id.
  const origin = await call("POST", "/api/v1/cors_origins/", "/api/v1/cors_origins/", {
    json: { pattern: "https://*.example.com" },
    headers: { "x-environment-id": env.body.id },
  });
  expect(origin.body.environment_id).toBe(env.body.id);
  expect((await call("GET", "/api/v1/cors_origins/", "/api/v1/cors_origins/")).body).toEqual([]);
  const theirs = await call("GET", "/api/v1/cors_origins/", "/api/v1/cors_origins/", {
    headers: { "x-environment-id": env.body.id },
  });
  expect(theirs.body.length).toBe(1);
  const h = { "x-environment-id": env.body.id };
  await call("GET", "/api/v1/cors_origins/{cors_origin_id}", `/api/v1/cors_origins/${origin.body.id}`, { headers: h });
  expect(
    (
      await call("PATCH", "/api/v1/cors_origins/{cors_origin_id}", `/api/v1/cors_origins/${origin.body.id}`, {
        headers: h,
        json: { pattern: "https://app.example.com/" },
      })
    ).body.pattern,
  ).toBe("https://app.example.com");
  expect(
    (await call("POST", "/api/v1/cors_origins/", "/api/v1/cors_origins/", { json: { pattern: "not an origin" } }))
      .status,
  ).toBe(422);
  expect(
    (
      await call("DELETE", "/api/v1/cors_origins/{cors_origin_id}", `/api/v1/cors_origins/${origin.body.id}`, {
        headers: h,
      })
    ).status,
  ).toBe(200);
  expect(
    (
      await call("GET", "/api/v1/images/", "/api/v1/images/", {
        headers: { "x-environment-id": "0190c5a8-0000-7000-8000-000000000000" },
      })
    ).status,
  ).toBe(404);
  expect(
    (await call("GET", "/api/v1/images/", "/api/v1/images/", { headers: { "x-environment-id": "nope" } })).status,
  ).toBe(422);

  // A non-admin key: its own environment only.
  const other = await call("POST", "/api/v1/api_keys/", "/api/v1/api_keys/", {
    json: { name: "env key", key_type: "SERVER" },
    headers: h,
  });
  const otherKey = other.body.server_key;
  const own = await call("GET", "/api/v1/environments/", "/api/v1/environments/", { key: otherKey });
  expect(own.body.map((e: any) => e.id)).toEqual([env.body.id]);
  const adminEnv = envs.body[0].id;
  expect(
    (
      await call("GET", "/api/v1/images/", "/api/v1/images/", {
        key: otherKey,
        headers: { "x-environment-id": adminEnv },
      })
    ).status,
  ).toBe(403);
  expect(
    (await call("POST", "/api/v1/environments/", "/api/v1/environments/", { key: otherKey, json: { name: "x" } }))
      .status,
  ).toBe(403);

  // Custom domain: the record names the CNAME and the TXT record that proves the name (the
  // whole proof, and delivery on a connected domain, in test/security/domains.test.ts).
  // imgd's own names cannot be claimed.
  expect(
    (await call("POST", "/api/v1/custom_domain/", "/api/v1/custom_domain/", { json: { hostname: "localhost" } }))
      .status,
  ).toBe(422);
  const dom = await call("POST", "/api/v1/custom_domain/", "/api/v1/custom_domain/", {
    json: { hostname: "Images.Example.com." },
  });
  expect(dom.body).toMatchObject({
    hostname: "images.example.com",
    cname_record: "images.example.com",
    cname_value: "127.0.0.1",
    dcv_cname_record: "_imgd-challenge.images.example.com",
    status: "PENDING",
  });
  expect(dom.body.dcv_cname_value).toMatch(/^imgd-verify=[0-9a-f-]{36}:[0-9a-f]{32}$/);
  expect((await call("GET", "/api/v1/custom_domain/", "/api/v1/custom_domain/")).body).toEqual(dom.body);
  expect((await call("DELETE", "/api/v1/custom_domain/", "/api/v1/custom_domain/")).status).toBe(200);
  expect((await call("GET", "/api/v1/custom_domain/", "/api/v1/custom_domain/")).status).toBe(404);

  await call("GET", "/api/v1/metrics/datasets", "/api/v1/metrics/datasets");
  await call("GET", "/api/v1/metrics/stats", "/api/v1/metrics/stats?interval=DAILY");
  expect((await call("GET", "/api/v1/metrics/stats", "/api/v1/metrics/stats?interval=YEARLY")).status).toBe(422);
  expect(
    (await call("DELETE", "/api/v1/environments/{environment_id}", `/api/v1/environments/${env.body.id}`)).status,
  ).toBe(200);
  expect((await s.api(`${MOUNT}/health`, { key: null })).status).toBe(200);
});

test("the validator holds responses to the document (a wrong shape is refused)", async () => {
  const { check } = await import("./helpers.ts");
  expect(() => check("GET", "/api/v1/environments/{environment_id}", 200, { id: "x", name: "n" })).toThrow();
  expect(() => check("GET", "/api/v1/images/", 200, [{ id: crypto.randomUUID(), status: "DONE" }])).toThrow();
  expect(() =>
    check("POST", "/api/v1/cors_origins/", 200, {
      id: crypto.randomUUID(),
      environment_id: crypto.randomUUID(),
      pattern: "x",
      created_at: "2026-01-01T00:00:00",
      updated_at: "2026-01-01T00:00:00Z",
    }),
  ).toThrow();
});
