import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { decode, makeImage } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { query, snapshot } from "../helpers/store.ts";
import { tenant } from "../metering/helpers.ts";
import { client, sha256 } from "./helpers.ts";

// Imgwire uploads pass the same admission as native and img.pro uploads: the plan's upload
// size, the month's uploads and the storage left are checked before a byte is stored, and the
// refusal is said in Imgwire's words ({"detail": …}).

const PLANS = JSON.stringify({
  roomy: { storage_bytes: 10_000_000, requests_per_minute: null, api_requests_per_month: null },
  full: { storage_bytes: 100, requests_per_minute: null, api_requests_per_month: null },
  k1: { storage_bytes: 1000, requests_per_minute: null, api_requests_per_month: null },
  two: { uploads_per_month: 1, requests_per_minute: null, api_requests_per_month: null },
});

let s: TestServer;
let call: ReturnType<typeof client>;
let upstream: ReturnType<typeof Bun.serve>;
let upstreamHits = 0;
let png: Uint8Array;
beforeAll(async () => {
  png = await makeImage(120, 80, "png");
  upstream = Bun.serve({
    hostname: "127.0.0.2",
    port: 0,
    fetch: () => (upstreamHits++, new Response(png as BodyInit)),
  });
  s = await startServer({
    env: { IMGD_REGISTRATION: "open", IMGD_PLANS: PLANS, IMGD_IMPORT_ALLOW_NETWORKS: "127.0.0.2/32" },
  });
  call = client(s);
});
afterAll(async () => {
  await s.stop();
  upstream.stop(true);
});

const setPlan = async (email: string, plan: string) =>
  expect(
    (
      await s.api(`/api/v1/admin/users/${encodeURIComponent(email)}`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ plan }),
      })
    ).status,
  ).toBe(200);
const standardUpload = (key: string, json: Record<string, unknown>) =>
  call("POST", "/api/v1/images/standard_upload", "/api/v1/images/standard_upload", {
    key,
    json: { file_name: "a.png", ...json },
  });
const status = async (key: string, id: string) =>
  (await call("GET", "/api/v1/images/{image_id}", `/api/v1/images/${id}`, { key })).body.status;
const imageRows = (id: string) => query(s.dataDir, "select id from images where id = ?", id).length;

/** A PUT whose headers promise `length` bytes, of which only `sent` are ever sent; resolves with the response's head. */
function partialPut(url: string, length: number, sent: Uint8Array): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    let got = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within 15 s while the body was incomplete (got: ${got.slice(0, 80)})`));
    }, 15_000);
    sock.on("connect", () => {
      sock.write(
        `PUT ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: image/png\r\nContent-Length: ${length}\r\n\r\n`,
      );
      sock.write(sent);
    });
    sock.on("data", (d) => {
      got += d.toString("latin1");
      if (got.includes("\r\n\r\n")) {
        clearTimeout(timer);
        sock.destroy();
        resolve(got);
      }
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

test("over the storage quota: the PUT is refused before its bytes are stored; the upload stays unfinished", async () => {
  const t = await tenant(s, "roomy");
  // Promised while there was room; a plan change leaves the account over its storage.
  const early = await standardUpload(t.key, {
    content_length: png.length,
    hash_sha256: sha256(png),
    mime_type: "image/png",
  });
  expect(early.status).toBe(200);
  const partial = await standardUpload(t.key, {});
  const stored = await standardUpload(t.key, {});
  expect(
    (await fetch(stored.body.upload_url, { method: "PUT", body: (await makeImage(30, 20, "png")) as BodyInit })).status,
  ).toBe(200);
  await setPlan(t.email, "full");
  const before = snapshot(s.dataDir);

  const put = await fetch(early.body.upload_url, {
    method: "PUT",
    body: png as BodyInit,
    headers: { "content-type": "image/png" },
  });
  expect(put.status).toBe(403);
  const body = (await put.json()) as { detail: string };
  expect(typeof body.detail).toBe("string");
  expect(body.detail).toContain("Storage limit of 100 bytes");
  expect(JSON.stringify(body)).not.toContain("    at ");
  // No blob file (blobs/, tmp/ and trash/ as before), no row, not READY.
  for (let i = 0; i < 50 && JSON.stringify(snapshot(s.dataDir)) !== JSON.stringify(before); i++) await Bun.sleep(20);
  expect(snapshot(s.dataDir)).toEqual(before);
  expect(imageRows(early.body.image.id)).toBe(0);
  expect(await status(t.key, early.body.image.id)).toBe("PENDING");

  // Refused from its headers: the answer comes while most of the body has not been sent.
  const head = await partialPut(partial.body.upload_url, 5_000_000, png.subarray(0, 100));
  expect(head.startsWith("HTTP/1.1 403")).toBe(true);
  expect(snapshot(s.dataDir)).toEqual(before);
  expect(await status(t.key, partial.body.image.id)).toBe("PENDING");

  // New uploads are refused when they are declared, in Imgwire's shape.
  const declared = await standardUpload(t.key, {});
  expect(declared.status).toBe(403);
  expect(declared.body.detail).toContain("Storage limit");
  const viaUrl = await call("POST", "/api/v1/images/upload_via_url", "/api/v1/images/upload_via_url", {
    key: t.key,
    json: { url: `http://127.0.0.2:${upstream.port}/b.png` },
  });
  expect(viaUrl.status).toBe(403);
  expect(viaUrl.body.detail).toContain("Storage limit");
  expect(upstreamHits).toBe(0);
  expect(snapshot(s.dataDir)).toEqual(before);

  // Back on a plan with room, the same upload URL works: the refusal left it usable.
  await setPlan(t.email, "roomy");
  expect(
    (
      await fetch(early.body.upload_url, {
        method: "PUT",
        body: png as BodyInit,
        headers: { "content-type": "image/png" },
      })
    ).status,
  ).toBe(200);
  expect(await status(t.key, early.body.image.id)).toBe("READY");
  const cdn = (await call("GET", "/api/v1/images/{image_id}", `/api/v1/images/${early.body.image.id}`, { key: t.key }))
    .body.cdn_url;
  const d = await decode(new Uint8Array(await (await fetch(`${cdn}?width=60&format=png`)).arrayBuffer()));
  expect([d.format, d.width, d.height]).toEqual(["png", 60, 40]);
});

test("a body larger than the storage left is refused as over the plan (from its headers, or cut off at the limit); nothing is kept", async () => {
  const t = await tenant(s, "roomy");
  const small = await makeImage(8, 8, "png");
  const early = await standardUpload(t.key, {});
  await setPlan(t.email, "k1");
  expect(small.length).toBeLessThan(1000);
  expect(png.length).toBeGreaterThan(1000);
  const before = snapshot(s.dataDir);
  // Content-Length says more than the 1000 bytes left: refused from the headers.
  const put = await fetch(early.body.upload_url, { method: "PUT", body: png as BodyInit });
  expect(put.status).toBe(403);
  expect(((await put.json()) as { detail: string }).detail).toContain(
    "Storage limit of 1000 bytes reached: 1000 bytes left",
  );
  // A URL upload says nothing in advance: cut off at the 1000 bytes left.
  const hits = upstreamHits;
  const viaUrl = await call("POST", "/api/v1/images/upload_via_url", "/api/v1/images/upload_via_url", {
    key: t.key,
    json: { url: `http://127.0.0.2:${upstream.port}/c.png` },
  });
  expect(upstreamHits).toBe(hits + 1);
  expect(viaUrl.status).toBe(403);
  expect(viaUrl.body.detail).toContain("Storage limit of 1000 bytes");
  for (let i = 0; i < 50 && JSON.stringify(snapshot(s.dataDir)) !== JSON.stringify(before); i++) await Bun.sleep(20);
  expect(snapshot(s.dataDir)).toEqual(before);
  // One that fits is stored.
  expect((await fetch(early.body.upload_url, { method: "PUT", body: small as BodyInit })).status).toBe(200);
  expect(await status(t.key, early.body.image.id)).toBe("READY");
});

test("the month's uploads used up: Imgwire refuses like the other dialects", async () => {
  const t = await tenant(s, "two");
  const first = await standardUpload(t.key, {});
  const second = await standardUpload(t.key, {});
  expect((await fetch(first.body.upload_url, { method: "PUT", body: png as BodyInit })).status).toBe(200);
  const before = snapshot(s.dataDir);
  const put = await fetch(second.body.upload_url, { method: "PUT", body: png as BodyInit });
  expect(put.status).toBe(403);
  expect(((await put.json()) as { detail: string }).detail).toContain("Monthly upload limit of 1 reached");
  expect(snapshot(s.dataDir)).toEqual(before);
  expect(await status(t.key, second.body.image.id)).toBe("PENDING");
  const third = await standardUpload(t.key, {});
  expect(third.status).toBe(403);
  expect(third.body.detail).toContain("Monthly upload limit");
  // The native route says the same in its words.
  const fd = new FormData();
  fd.append("file", new Blob([png as BlobPart]), "x.png");
  const native = await s.api("/api/v1/images", { method: "POST", key: t.key, body: fd });
  expect(native.status).toBe(403);
  expect(((await native.json()) as any).error.code).toBe("PLAN_LIMIT_EXCEEDED");
});
