import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import sharp from "sharp";
import { thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA } from "thumbhash";
import { decode } from "../helpers/images.ts";
import { type TestServer, fixture, form, startServer } from "../helpers/server.ts";
import { execute } from "../helpers/store.ts";
import { check, client } from "../imgwire/helpers.ts";

// Placeholders: a ThumbHash for every image at upload, in every dialect's metadata; the tiny
// blurred PNG of `?placeholder`; lazily made for images stored before them, and backfilled.

let s: TestServer;
let red: any;
beforeAll(async () => {
  s = await startServer();
  // A red image 300×100: the placeholder must be red-ish and three times as wide as high.
  const bytes = new Uint8Array(
    await sharp({ create: { width: 300, height: 100, channels: 3, background: { r: 220, g: 20, b: 30 } } })
      .jpeg()
      .toBuffer(),
  );
  red = await upload(bytes, "red.jpg");
});
afterAll(async () => {
  await s.stop();
  await rm(s.dataDir, { recursive: true, force: true });
});

async function upload(bytes: Uint8Array, filename: string, extra: Record<string, string> = {}) {
  const res = await s.api("/api/v1/images", { method: "POST", body: form({ file: { bytes, filename }, ...extra }) });
  expect(res.status).toBe(201);
  return (await res.json()) as any;
}

const hashBytes = (b64: string) => Buffer.from(b64, "base64");

describe("a ThumbHash for every image", () => {
  test("in the native metadata, the list, img.pro's media and Imgwire's image, all the same", async () => {
    const meta = (await (await s.api(`/api/v1/images/${red.id}`)).json()) as any;
    const th = meta.metadata.thumbhash as string;
    expect(th).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(hashBytes(th).length).toBeLessThan(40);
    // ThumbHash keeps the aspect ratio roughly (it is made of a few cosine terms).
    const ratio = thumbHashToApproximateAspectRatio(hashBytes(th));
    expect(ratio > 2.5 && ratio < 4).toBe(true);
    const avg = thumbHashToAverageRGBA(hashBytes(th));
    expect(avg.r).toBeGreaterThan(0.7);
    expect(avg.g).toBeLessThan(0.2);
    expect(meta.metadata.placeholder_url).toBe(`${s.url}/i/admin/red.jpg?placeholder`);

    const list = (await (await s.api("/api/v1/images?limit=50")).json()) as any;
    expect(list.images.find((i: any) => i.id === red.id).thumbhash).toBe(th);

    const media = (await (await s.api(`/v1/media/${red.id}`)).json()) as any;
    expect(media.thumbhash ?? media.data?.thumbhash).toBe(th);

    const call = client(s);
    const images = await call("GET", "/api/v1/images/", "/api/v1/images/?limit=50");
    expect(images.status).toBe(200);
    expect(images.body.length).toBeGreaterThan(0);
    for (const img of images.body) expect(img.thumbhash).toBe(th);
    expect(check("GET", "/api/v1/images/", 200, images.body)).toBe(true);
  });

  test("?placeholder is a tiny blurred PNG with the image's shape and colour", async () => {
    const res = await fetch(`${s.url}/i/admin/red.jpg?placeholder`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.length).toBeLessThan(5000);
    const d = await decode(bytes);
    expect(d.format).toBe("png");
    expect(Math.max(d.width, d.height)).toBeLessThanOrEqual(32);
    expect(d.width / d.height > 2.5 && d.width / d.height < 4).toBe(true);
    const { data } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([data[0] > 150, data[1] < 80, data[2] < 90]).toEqual([true, true, true]);
    const etag = res.headers.get("etag")!;
    const again = await fetch(`${s.url}/i/admin/red.jpg?placeholder`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    // Options do not combine with it.
    const bad = await fetch(`${s.url}/i/admin/red.jpg?placeholder&w=10`);
    expect(bad.status).toBe(400);
  });

  test("an EXIF-rotated photo's placeholder is upright", async () => {
    await upload(await fixture("Landscape_6.jpg"), "turned.jpg");
    const res = await fetch(`${s.url}/i/admin/turned.jpg?placeholder`);
    const d = await decode(new Uint8Array(await res.arrayBuffer()));
    expect(d.width).toBeGreaterThan(d.height);
  });

  test("a private image's placeholder needs a signature", async () => {
    const up = await upload(
      new Uint8Array(
        await sharp({ create: { width: 40, height: 40, channels: 3, background: "#0000ff" } })
          .png()
          .toBuffer(),
      ),
      "hidden.png",
      { visibility: "private" },
    );
    expect((await fetch(`${s.url}/i/admin/hidden.png?placeholder`)).status).toBe(403);
    const signed = (await (
      await s.api(`/api/v1/images/${up.id}/signed-url`, {
        method: "POST",
        body: JSON.stringify({ options: "placeholder" }),
      })
    ).json()) as any;
    const r = await fetch(signed.signed_url);
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toMatch(/^private/);
  });
});

describe("images from before placeholders", () => {
  test("get one lazily on ?placeholder, and from the backfill at start", async () => {
    const a = await upload(
      new Uint8Array(
        await sharp({ create: { width: 50, height: 20, channels: 3, background: "#00ff00" } })
          .png()
          .toBuffer(),
      ),
      "old-a.png",
    );
    const b = await upload(
      new Uint8Array(
        await sharp({ create: { width: 20, height: 50, channels: 3, background: "#00ff00" } })
          .png()
          .toBuffer(),
      ),
      "old-b.png",
    );
    const forget = () => execute(s.dataDir, "UPDATE images SET thumbhash = NULL WHERE id IN (?, ?)", a.id, b.id);
    const key = s.adminKey;
    const thumbhashOf = async (server: TestServer, id: string) =>
      ((await (await server.api(`/api/v1/images/${id}`, { key })).json()) as any).metadata.thumbhash;
    forget();
    expect(await thumbhashOf(s, a.id)).toBeNull();
    const r = await fetch(`${s.url}/i/admin/old-a.png?placeholder`);
    expect(r.status).toBe(200);
    expect(await thumbhashOf(s, a.id)).toMatch(/^[A-Za-z0-9+/]+=*$/);

    forget();
    await s.stop({ keepData: true });
    s = await startServer({ dataDir: s.dataDir });
    const deadline = Date.now() + 30_000;
    while ((!(await thumbhashOf(s, a.id)) || !(await thumbhashOf(s, b.id))) && Date.now() < deadline)
      await Bun.sleep(100);
    const hb = await thumbhashOf(s, b.id);
    expect(hb).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(thumbHashToApproximateAspectRatio(hashBytes(hb))).toBeLessThan(1);
  });
});
