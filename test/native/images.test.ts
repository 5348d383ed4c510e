import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { decode, makeImage } from "../helpers/images.ts";
import { storedFiles } from "../helpers/store.ts";
import { type TestServer, ROOT, fixture, form, startServer } from "../helpers/server.ts";

let s: TestServer;
let jpeg: Uint8Array;
beforeAll(async () => {
  s = await startServer();
  jpeg = await makeImage(640, 480, "jpg");
});
afterAll(() => s.stop());

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const upload = (fields: Parameters<typeof form>[0], key?: string) =>
  s.api("/api/v1/images", { method: "POST", body: form(fields), key });
const blobFiles = () => storedFiles(s.dataDir, "blobs").map((p) => p.slice(p.lastIndexOf("/") + 1));

describe("upload", () => {
  test("a JPEG: 201 with the reference's shape, served back byte for byte", async () => {
    const res = await upload({ file: { bytes: jpeg, filename: "Holiday Photo.JPG", type: "image/jpeg" } });
    expect(res.status).toBe(201);
    const body = (await res.json()) as any;
    expect(body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(body.hash).toBe(sha256(jpeg));
    expect(body.is_new).toBe(true);
    expect(body.size).toBe(jpeg.length);
    expect(body.format).toBe("jpeg");
    expect(body.dimensions).toEqual({ width: 640, height: 480 });
    expect(body.paths).toEqual(["Holiday-Photo.JPG"]);
    expect(body.url).toBe(`${s.url}/i/admin/Holiday-Photo.JPG`);
    expect(body.available_formats).toEqual({
      webp: `${s.url}/i/admin/Holiday-Photo.webp`,
      avif: `${s.url}/i/admin/Holiday-Photo.avif`,
      jpeg: `${s.url}/i/admin/Holiday-Photo.jpg`,
      png: `${s.url}/i/admin/Holiday-Photo.png`,
      jxl: `${s.url}/i/admin/Holiday-Photo.jxl`,
    });
    expect(body.uploaded_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(body.visibility).toBe("public");
    expect(body._links).toEqual({ self: `/api/v1/images/${body.id}`, delete: `/api/v1/images/${body.id}` });

    const served = await fetch(body.url);
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("image/jpeg");
    expect(served.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const etag = served.headers.get("etag")!;
    expect(etag).toMatch(/^"[^"]+"$/);
    const bytes = new Uint8Array(await served.arrayBuffer());
    expect(sha256(bytes)).toBe(body.hash);
    expect(await decode(bytes)).toMatchObject({ format: "jpeg", width: 640, height: 480 });

    const again = await fetch(body.url, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(etag);
    expect((await again.arrayBuffer()).byteLength).toBe(0);
  });

  test("the same bytes again: 201, is_new false, a new path alias, no new blob", async () => {
    const bytes = await makeImage(300, 200, "png");
    const first = (await (await upload({ file: { bytes, filename: "a.png" }, target_path: "dup" })).json()) as any;
    const before = blobFiles();
    const res = await upload({ file: { bytes, filename: "b.png" }, target_path: "dup/copy.png" });
    expect(res.status).toBe(201);
    const second = (await res.json()) as any;
    expect(second.is_new).toBe(false);
    expect(second.id).toBe(first.id);
    expect(second.paths).toEqual(["dup/a.png", "dup/copy.png"]);
    expect(blobFiles()).toEqual(before);
    expect(before).toContain(first.hash);
  });

  test("the format comes from the bytes, never from the name or Content-Type", async () => {
    const png = await makeImage(50, 40, "png", { alpha: true });
    const body = (await (
      await upload({ file: { bytes: png, filename: "lies.jpg", type: "image/jpeg" } })
    ).json()) as any;
    expect(body.format).toBe("png");
    expect(body.paths).toEqual(["lies.jpg"]);
    const meta = (await (await s.api(`/api/v1/images/${body.id}`)).json()) as any;
    expect(meta.metadata.mime_type).toBe("image/png");
  });

  test("real-world formats from the fixtures: format and upright dimensions", async () => {
    const cases: [string, string, number, number][] = [
      ["4.webp", "webp", 1024, 772],
      ["animated-loop-3.gif", "gif", 370, 285],
      ["Landscape_6.jpg", "jpeg", 600, 450],
      ["Channel_digital_image_CMYK_color.jpg", "jpeg", 0, 0],
      ["check.svg", "svg", 0, 0],
    ];
    for (const [name, format, w, h] of cases) {
      const res = await upload({ file: { bytes: await fixture(name), filename: name }, target_path: "fixtures" });
      expect(res.status).toBe(201);
      const body = (await res.json()) as any;
      expect(body.format).toBe(format);
      if (w) expect(body.dimensions).toEqual({ width: w, height: h });
      else expect(body.dimensions.width).toBeGreaterThan(0);
    }
  });

  test("a folder path or a full path", async () => {
    const small = await makeImage(20, 20, "jpg");
    const a = (await (
      await upload({ file: { bytes: small, filename: "x.jpg" }, target_path: "blog/2024" })
    ).json()) as any;
    expect(a.paths).toEqual(["blog/2024/x.jpg"]);
    const b = (await (
      await upload({ file: { bytes: await makeImage(21, 20, "jpg"), filename: "y.jpg" }, path: "blog/hero.jpg" })
    ).json()) as any;
    expect(b.paths).toEqual(["blog/hero.jpg"]);
    // An explicit path held by another image is a conflict; a derived one gets a suffix.
    const clash = await upload({
      file: { bytes: await makeImage(22, 20, "jpg"), filename: "z.jpg" },
      path: "blog/hero.png",
    });
    expect(clash.status).toBe(409);
    expect(((await clash.json()) as any).error.code).toBe("CONFLICT");
    const suffixed = (await (
      await upload({ file: { bytes: await makeImage(23, 20, "jpg"), filename: "x.jpg" }, target_path: "blog/2024" })
    ).json()) as any;
    expect(suffixed.paths).toEqual(["blog/2024/x-1.jpg"]);
  });
});

describe("library", () => {
  test("list: pagination, sorting, folders with counts", async () => {
    const all = (await (await s.api("/api/v1/images?limit=100")).json()) as any;
    expect(all.total).toBe(all.images.length);
    expect(all.limit).toBe(100);
    expect(all.offset).toBe(0);
    expect(all.has_more).toBe(false);
    for (const item of all.images) {
      expect(item.url).toBe(`/api/v1/images/${item.id}`);
      expect(item.cdn_url).toStartWith(`${s.url}/i/admin/`);
      expect(item.active_signed_url).toBeNull();
      expect(item.uploaded_at).toMatch(/Z$/);
    }
    const page = (await (await s.api("/api/v1/images?limit=2&offset=1")).json()) as any;
    expect(page.images.map((i: any) => i.id)).toEqual(all.images.slice(1, 3).map((i: any) => i.id));
    expect(page.has_more).toBe(true);
    // Imgwire-style pages, with the X-* headers its SDK pages through.
    const p2 = await s.api("/api/v1/images?limit=2&page=2");
    expect(((await p2.json()) as any).images.map((i: any) => i.id)).toEqual(
      all.images.slice(2, 4).map((i: any) => i.id),
    );
    expect(
      Object.fromEntries(
        ["x-total-count", "x-page", "x-limit", "x-prev-page", "x-next-page"].map((h) => [h, p2.headers.get(h)]),
      ),
    ).toEqual({
      "x-total-count": String(all.total),
      "x-page": "2",
      "x-limit": "2",
      "x-prev-page": "1",
      "x-next-page": all.total > 4 ? "3" : "null",
    });
    expect((await s.api("/api/v1/images?page=1&offset=2")).status).toBe(400);
    expect((await s.api("/api/v1/images?page=0")).status).toBe(400);

    const oldest = (await (await s.api("/api/v1/images?sort=oldest&limit=100")).json()) as any;
    expect(oldest.images.map((i: any) => i.id)).toEqual([...all.images].reverse().map((i: any) => i.id));
    const bySize = (await (await s.api("/api/v1/images?sort=size&limit=100")).json()) as any;
    const sizes = bySize.images.map((i: any) => i.size);
    expect(sizes).toEqual([...sizes].sort((a: number, b: number) => b - a));
    const byName = (await (await s.api("/api/v1/images?sort=name&limit=100")).json()) as any;
    const names = byName.images.map((i: any) => i.sanitized_filename);
    expect(names).toEqual([...names].sort());

    expect(all.folders).toContainEqual({ name: "blog", image_count: 3 });
    const blog = (await (await s.api("/api/v1/images?path=blog")).json()) as any;
    expect(blog.path_filter).toBe("blog");
    expect(blog.total).toBe(1);
    expect(blog.images[0].paths).toEqual(["blog/hero.jpg"]);
    expect(blog.folders).toEqual([{ name: "2024", image_count: 2 }]);
  });

  test("search matches names and paths, case-insensitively", async () => {
    const r = (await (await s.api("/api/v1/images/search?q=HOLIDAY")).json()) as any;
    expect(r.query).toBe("HOLIDAY");
    expect(r.total).toBe(1);
    expect(r.results[0].original_filename).toBe("Holiday Photo.JPG");
    const byPath = (await (await s.api("/api/v1/images/search?q=2024")).json()) as any;
    expect(byPath.total).toBe(2);
    const none = (await (await s.api("/api/v1/images/search?q=%25")).json()) as any;
    expect(none.total).toBe(0);
    expect((await s.api("/api/v1/images/search")).status).toBe(400);
  });

  test("metadata: hash, size, mime, dimensions, dominant colour, urls", async () => {
    const up = (await (
      await upload({ file: { bytes: await makeImage(64, 48, "png"), filename: "meta.png" } })
    ).json()) as any;
    const res = await s.api(`/api/v1/images/${up.id}`);
    expect(res.status).toBe(200);
    const m = (await res.json()) as any;
    expect(m.id).toBe(up.id);
    expect(m.metadata).toMatchObject({
      hash: up.hash,
      original_filename: "meta.png",
      size: up.size,
      mime_type: "image/png",
      width: 64,
      height: 48,
    });
    expect(m.metadata.dominant_color).toMatch(/^[0-9a-f]{6}$/);
    expect(m.urls.original).toBe(`${s.url}/i/admin/meta.png`);
    expect(m.urls.avif).toBe(`${s.url}/i/admin/meta.avif`);
    expect(m.visibility).toBe("public");
    expect((await s.api("/api/v1/images/00000000-0000-7000-8000-000000000000")).status).toBe(404);
  });

  test("visibility: a private image is not served without a signature", async () => {
    const up = (await (
      await upload({ file: { bytes: await makeImage(30, 30, "jpg"), filename: "secret.jpg" }, visibility: "private" })
    ).json()) as any;
    expect(up.visibility).toBe("private");
    expect((await fetch(up.url)).status).toBe(403);
    const pub = await s.api(`/api/v1/images/${up.id}/visibility`, {
      method: "PUT",
      body: JSON.stringify({ visibility: "public" }),
    });
    expect(await pub.json()).toEqual({ id: up.id, visibility: "public", message: "Visibility updated to public" });
    expect((await fetch(up.url)).status).toBe(200);
    const priv = await s.api(`/api/v1/images/${up.id}/visibility`, {
      method: "PATCH",
      body: JSON.stringify({ visibility: "private" }),
    });
    expect(priv.status).toBe(200);
    expect((await fetch(up.url)).status).toBe(403);
    expect(
      (
        await s.api(`/api/v1/images/${up.id}/visibility`, {
          method: "PUT",
          body: JSON.stringify({ visibility: "hidden" }),
        })
      ).status,
    ).toBe(400);
  });

  test("delete: paths and blob go; a blob another image uses stays", async () => {
    const bytes = await makeImage(33, 33, "jpg");
    const up = (await (await upload({ file: { bytes, filename: "gone.jpg" } })).json()) as any;
    await upload({ file: { bytes, filename: "gone.jpg" }, target_path: "alias" });
    expect(blobFiles()).toContain(up.hash);
    const res = await s.api(`/api/v1/images/${up.id}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.success).toBe(true);
    expect(body.deleted_paths.sort()).toEqual(["alias/gone.jpg", "gone.jpg"]);
    expect(body.deleted_at).toMatch(/Z$/);
    expect((await fetch(up.url)).status).toBe(404);
    expect((await s.api(`/api/v1/images/${up.id}`)).status).toBe(404);
    expect(blobFiles()).not.toContain(up.hash);
    expect(storedFiles(s.dataDir, "trash")).toEqual([]);
    expect((await s.api(`/api/v1/images/${up.id}`, { method: "DELETE" })).status).toBe(404);
  });

  test("delete one path alias (percent-encoded); the image goes with its last path", async () => {
    const bytes = await makeImage(34, 34, "jpg");
    const a = (await (await upload({ file: { bytes, filename: "p.jpg" }, target_path: "one" })).json()) as any;
    await upload({ file: { bytes, filename: "p.jpg" }, target_path: "two" });
    const r1 = await s.api(`/api/v1/images/path/admin/${encodeURIComponent("one/p.jpg")}`, { method: "DELETE" });
    expect(r1.status).toBe(200);
    expect(await r1.json()).toMatchObject({ success: true, remaining_paths: ["two/p.jpg"], image_deleted: false });
    expect((await s.api(`/api/v1/images/path/someone-else/two/p.jpg`, { method: "DELETE" })).status).toBe(403);
    const r2 = await s.api(`/api/v1/images/path/admin/two/p.jpg`, { method: "DELETE" });
    expect(await r2.json()).toMatchObject({ remaining_paths: [], image_deleted: true });
    expect((await s.api(`/api/v1/images/${a.id}`)).status).toBe(404);
    expect(blobFiles()).not.toContain(a.hash);
  });

  test("another user's key sees none of it", async () => {
    const p = Bun.spawnSync(
      [process.execPath, `${ROOT}/src/main.ts`, "users", "create", "carol", "--data-dir", s.dataDir],
      { env: { ...process.env, ...s.env } },
    );
    expect(p.exitCode).toBe(0);
    const k = Bun.spawnSync(
      [process.execPath, `${ROOT}/src/main.ts`, "keys", "create", "--user", "carol", "--data-dir", s.dataDir],
      { env: { ...process.env, ...s.env } },
    );
    const carol = k.stdout.toString().trim();
    const mine = (await (await s.api("/api/v1/images?limit=1")).json()) as any;
    const id = mine.images[0].id;
    const list = (await (await s.api("/api/v1/images", { key: carol })).json()) as any;
    expect(list.total).toBe(0);
    expect((await s.api(`/api/v1/images/${id}`, { key: carol })).status).toBe(404);
    expect((await s.api(`/api/v1/images/${id}`, { key: carol, method: "DELETE" })).status).toBe(404);
    expect((await s.api(`/api/v1/images/${id}`)).status).toBe(200);
    // On PostgreSQL the data dir holds no database at all.
    expect(existsSync(join(s.dataDir, "imgd.sqlite"))).toBe(!s.env.IMGD_DATABASE_URL);
  });
});
