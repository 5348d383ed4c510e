import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createImgd, type Imgd } from "../src/index.ts";
import { decode, makeImage } from "./helpers/images.ts";

// Two imgd instances in one process, mounted by a host server under different prefixes with
// different data directories: nothing global, so neither sees the other's images.

let a: Imgd;
let b: Imgd;
let host: ReturnType<typeof Bun.serve>;
let dirs: string[];
let keys: { a: string; b: string };

beforeAll(async () => {
  dirs = [await mkdtemp(join(tmpdir(), "imgd-embed-a-")), await mkdtemp(join(tmpdir(), "imgd-embed-b-"))];
  a = await createImgd({ dataDir: dirs[0], basePath: "/a", workers: 1 });
  b = await createImgd({ dataDir: dirs[1], basePath: "/media/b", workers: 1 });
  keys = { a: await a.createAdminKey(), b: await b.createAdminKey() };
  host = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const { pathname } = new URL(req.url);
      if (pathname.startsWith("/a/")) return a.fetch(req);
      if (pathname.startsWith("/media/b/")) return b.fetch(req);
      return new Response("host", { status: 200 });
    },
  });
});

afterAll(async () => {
  host.stop(true);
  await a.close();
  await b.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test("two instances side by side do not see each other's images", async () => {
  const base = `http://127.0.0.1:${host.port}`;
  const fd = new FormData();
  fd.append("file", new Blob([(await makeImage(160, 120, "jpg")) as BlobPart]), "mine.jpg");
  const up = await fetch(`${base}/a/api/v1/images`, {
    method: "POST",
    body: fd,
    headers: { authorization: `Bearer ${keys.a}` },
  });
  expect(up.status).toBe(201);
  const body = (await up.json()) as any;
  expect(body.url).toBe(`${base}/a/i/admin/mine.jpg`);
  expect(body.available_formats.webp).toBe(`${base}/a/i/admin/mine.webp`);

  const variant = await fetch(`${base}/a/i/admin/mine.webp?w=80`);
  expect(variant.status).toBe(200);
  expect(await decode(new Uint8Array(await variant.arrayBuffer()))).toMatchObject({
    format: "webp",
    width: 80,
    height: 60,
  });

  // B has its own data: the image is not there, and A's key means nothing to it.
  expect((await fetch(`${base}/media/b/i/admin/mine.webp?w=80`)).status).toBe(404);
  const listB = (await (
    await fetch(`${base}/media/b/api/v1/images`, { headers: { authorization: `Bearer ${keys.b}` } })
  ).json()) as any;
  expect(listB.total).toBe(0);
  expect(
    (await fetch(`${base}/media/b/api/v1/images`, { headers: { authorization: `Bearer ${keys.a}` } })).status,
  ).toBe(401);
  const listA = (await (
    await fetch(`${base}/a/api/v1/images`, { headers: { authorization: `Bearer ${keys.a}` } })
  ).json()) as any;
  expect(listA.total).toBe(1);
  expect(listA.images[0].cdn_url).toBe(`${base}/a/i/admin/mine.webp`);

  // A request outside an instance's prefix is not its business.
  expect((await a.fetch(new Request(`${base}/elsewhere/health`))).status).toBe(404);
  expect((await (await fetch(`${base}/media/b/health`)).json()) as any).toMatchObject({ status: "ok" });
});
