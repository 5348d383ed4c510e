import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { decode, makeImage, pixel } from "../helpers/images.ts";
import { type TestServer, form, startServer } from "../helpers/server.ts";
import { query, refusedImgpro, snapshot } from "../helpers/store.ts";

// POST /v1/upload as img.pro's reference shows it, and the src/url it answers with.

let s: TestServer;
let jpeg: Uint8Array;
beforeAll(async () => {
  s = await startServer({ env: { IMGD_MAX_UPLOAD_BYTES: "400000", IMGD_MAX_SVG_BYTES: "2000" } });
  jpeg = await makeImage(800, 600, "jpg");
});
afterAll(() => s.stop());

const upload = (fields: Parameters<typeof form>[0], key?: string | null) =>
  s.api("/v1/upload", { method: "POST", body: form(fields), key });
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("upload", () => {
  test("the reference's shape; src serves the bytes, sizes and conversions; url is a viewer page", async () => {
    const res = await upload({
      file: { bytes: jpeg, filename: "photo.jpg" },
      tags: " Hero ,homepage,hero,, ",
      namespace: "my-project",
      description: "Sunset over the Pacific",
      author: "Jane Doe",
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as any;
    expect(Object.keys(body)).toEqual([
      "id",
      "name",
      "url",
      "src",
      "width",
      "height",
      "filesize",
      // No "status": reference/002 shows it only while an item is processing or failed.
      "editable",
      "tags",
      "namespace",
      "description",
      "author",
      "created_at",
      // imgd's own: the blurred placeholder (ThumbHash, and the tiny PNG's URL).
      "thumbhash",
      "placeholder",
      "sizes",
      // imgd's own: what was stripped of the file's metadata (upload answers only).
      "stripped",
    ]);
    expect(body).toMatchObject({
      name: "photo.jpg",
      width: 800,
      height: 600,
      filesize: jpeg.length,
      editable: true,
      tags: ["hero", "homepage"],
      namespace: "my-project",
    });
    expect(body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(body.src).toBe(`${s.url}/i/admin/${body.id}.jpeg`);
    expect(body.url).toBe(`${s.url}/p/${body.id}`);
    expect(Math.abs(body.created_at - Date.now() / 1000)).toBeLessThan(60);
    // Quota headers on an authenticated answer.
    expect(res.headers.get("x-monthly-uploads-used")).toBe("1");
    expect(res.headers.get("x-storage-used")).toBe(String(jpeg.length));
    expect(res.headers.get("x-storage-limit")).toBe("unlimited");

    const original = await fetch(body.src);
    expect(original.status).toBe(200);
    expect(sha(new Uint8Array(await original.arrayBuffer()))).toBe(sha(jpeg));
    // Short edge 320; m and l would upscale the 600 px short edge, and never do.
    for (const [size, edge] of [
      ["s", 320],
      ["m", 600],
      ["l", 600],
    ] as const) {
      const r = await fetch(`${body.src}?size=${size}`);
      const d = await decode(new Uint8Array(await r.arrayBuffer()));
      expect({ size, h: d.height, w: d.width }).toEqual({ size, h: edge, w: Math.round((edge * 800) / 600) });
    }
    const webp = await fetch(body.src.replace(/\.jpeg$/, ".webp") + "?w=100");
    expect(webp.headers.get("content-type")).toBe("image/webp");
    const wb = new Uint8Array(await webp.arrayBuffer());
    expect(await decode(wb)).toMatchObject({ format: "webp", width: 100, height: 75 });
    // The gradient survives: red grows to the right.
    const [left] = await pixel(wb, 2, 37);
    const [right] = await pixel(wb, 97, 37);
    expect(right - left).toBeGreaterThan(150);
    const png = await fetch(body.src.replace(/\.jpeg$/, ".png") + "?size=s");
    expect(await decode(new Uint8Array(await png.arrayBuffer()))).toMatchObject({ format: "png", height: 320 });

    const page = await fetch(body.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain("<title>photo.jpg</title>");
    expect(html).toContain(`<meta property="og:image" content="${body.src}?size=l">`);
    expect(html).toContain(`<meta name="twitter:card" content="summary_large_image">`);
    expect(html).toContain(`<img src="${body.src}?size=l"`);
  });

  test("every upload is its own item (new id), sharing one blob; the native API sees the same image", async () => {
    const a = (await (
      await upload({ file: { bytes: jpeg, filename: "a.jpg" }, namespace: "twins", tags: "x" })
    ).json()) as any;
    const b = (await (await upload({ file: { bytes: jpeg, filename: "b.jpg" }, namespace: "twins" })).json()) as any;
    expect(a.id).not.toBe(b.id);
    expect(query(s.dataDir, "select count(*) n from blobs where hash = ?", sha(jpeg))[0].n).toBe(1);
    const native = (await (await s.api(`/api/v1/images/${a.id}`)).json()) as any;
    expect(native).toMatchObject({ id: a.id, tags: ["x"], namespace: "twins", paths: [`${a.id}.jpeg`] });
    const filtered = (await (await s.api("/api/v1/images?namespace=twins&tag=x")).json()) as any;
    expect(filtered.images.map((i: any) => i.id)).toEqual([a.id]);
    expect((await s.api("/api/v1/images?namespace=A_b")).status).toBe(400);
  });

  test("public=false hides the viewer page, not the CDN src; name, date and ttl", async () => {
    const res = await upload({
      file: { bytes: jpeg, filename: "p.jpg" },
      public: "false",
      name: "Renamed.jpg",
      date: "2024-01-15",
      ttl: "7d",
    });
    const body = (await res.json()) as any;
    expect(body.url).toBeUndefined();
    expect(body).toMatchObject({ name: "Renamed.jpg", date: "2024-01-15" });
    expect(body.expires_at - body.created_at).toBeGreaterThanOrEqual(7 * 86400 - 1);
    expect(body.expires_at - body.created_at).toBeLessThanOrEqual(7 * 86400 + 1);
    expect((await fetch(`${s.url}/p/${body.id}`)).status).toBe(404);
    expect((await fetch(body.src)).status).toBe(200);
    // Without a key a non-public item is not found; with its owner's key it is.
    expect((await s.api(`/v1/media/${body.id}`, { key: null })).status).toBe(404);
    expect((await s.api(`/v1/media/${body.id}`)).status).toBe(200);
    const ttl = (await (await upload({ file: { bytes: jpeg, filename: "t.jpg" }, ttl: "3600" })).json()) as any;
    expect(ttl.expires_at - ttl.created_at).toBeWithin(3599, 3602);
  });

  test("external_id: a second upload returns the first item with 200 and X-Deduplicated", async () => {
    const first = await upload({ file: { bytes: jpeg, filename: "e.jpg" }, external_id: "cms-42" });
    expect(first.status).toBe(201);
    const a = (await first.json()) as any;
    const before = snapshot(s.dataDir);
    const other = await makeImage(40, 30, "png");
    const again = await upload({ file: { bytes: other, filename: "e2.png" }, external_id: "cms-42" });
    expect(again.status).toBe(200);
    expect(again.headers.get("x-deduplicated")).toBe("true");
    const b = (await again.json()) as any;
    expect(b.id).toBe(a.id);
    expect(b.width).toBe(800);
    for (let i = 0; i < 20 && JSON.stringify(snapshot(s.dataDir)) !== JSON.stringify(before); i++) await Bun.sleep(20);
    expect(snapshot(s.dataDir)).toEqual(before);
  });

  test("reserved names are ignored as custom fields; custom fields come back as sent", async () => {
    const res = await upload({
      file: { bytes: jpeg, filename: "r.jpg" },
      width: "5",
      filesize: "1",
      src: "evil",
      editable: "false",
      license: "cc-by-4.0",
    });
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ width: 800, filesize: jpeg.length, editable: true, license: "cc-by-4.0" });
    expect(body.src).toStartWith(s.url);
    const stored = query(s.dataDir, "select metadata from images where id = ?", body.id)[0].metadata;
    expect(JSON.parse(stored)).toEqual({ license: "cc-by-4.0" });
  });

  test("anonymous uploads are off by default", async () => {
    const before = snapshot(s.dataDir);
    await refusedImgpro(
      await upload({ file: { bytes: jpeg, filename: "x.jpg" } }, null),
      401,
      "unauthorized",
      s.dataDir,
      before,
    );
    await refusedImgpro(
      await upload({ file: { bytes: jpeg, filename: "x.jpg" } }, "imgsrc_nope"),
      401,
      "unauthorized",
      s.dataDir,
      before,
    );
  });
});

describe("bad input leaves nothing behind", () => {
  const cases: [string, Record<string, string>, string][] = [
    ["11 tags", { tags: "a,b,c,d,e,f,g,h,i,j,k" }, "tags"],
    ["a 51-character tag", { tags: `ok,${"x".repeat(51)}` }, "tags"],
    ["namespace A_b", { namespace: "A_b" }, "namespace"],
    ["namespace of 1 character", { namespace: "a" }, "namespace"],
    ["namespace of 65 characters", { namespace: "a".repeat(65) }, "namespace"],
    ["ttl 91d", { ttl: "91d" }, "ttl"],
    ["ttl 0", { ttl: "0" }, "ttl"],
    ["ttl -5", { ttl: "-5" }, "ttl"],
    ["ttl abc", { ttl: "abc" }, "ttl"],
    ["ttl 4m", { ttl: "4m" }, "ttl"],
    ["public maybe", { public: "maybe" }, "public"],
    ["date not a date", { date: "yesterday" }, "date"],
    ["an enormous custom field", { description: "x".repeat(5000) }, "description"],
    ["a custom field name with spaces", { "my field": "x" }, "my field"],
  ];
  for (const [what, fields, field] of cases) {
    test(what, async () => {
      const before = snapshot(s.dataDir);
      const body = await refusedImgpro(
        await upload({ file: { bytes: jpeg, filename: "bad.jpg" }, ...fields }),
        400,
        "validation_error",
        s.dataDir,
        before,
      );
      expect(Object.keys(body.error.errors)).toContain(field);
    });
  }

  test("every bad field is reported at once", async () => {
    const before = snapshot(s.dataDir);
    const body = await refusedImgpro(
      await upload({
        file: { bytes: jpeg, filename: "bad.jpg" },
        tags: "a,b,c,d,e,f,g,h,i,j,k",
        namespace: "A_b",
        ttl: "91d",
      }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
    expect(Object.keys(body.error.errors).sort()).toEqual(["namespace", "tags", "ttl"]);
  });

  test("too many custom fields, a field over the multipart limit", async () => {
    const before = snapshot(s.dataDir);
    const many: Record<string, string> = {};
    for (let i = 0; i < 51; i++) many[`f${i}`] = "v";
    await refusedImgpro(
      await upload({ file: { bytes: jpeg, filename: "bad.jpg" }, ...many }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
    await refusedImgpro(
      await upload({ file: { bytes: jpeg, filename: "bad.jpg" }, description: "y".repeat(100_000) }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
  });

  test("no file, not an image, over the size limit, an SVG over its own limit", async () => {
    const before = snapshot(s.dataDir);
    await refusedImgpro(await upload({ tags: "a" }), 400, "validation_error", s.dataDir, before);
    await refusedImgpro(
      await upload({ file: { bytes: new TextEncoder().encode("not an image at all ".repeat(10)), filename: "x.jpg" } }),
      400,
      "validation_error",
      s.dataDir,
      before,
    );
    await refusedImgpro(
      await upload({ file: { bytes: new Uint8Array(500_000).fill(3), filename: "big.jpg" } }),
      413,
      "file_too_large",
      s.dataDir,
      before,
    );
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><!--${"p".repeat(3000)}--><rect width="10" height="10" fill="red"/></svg>`;
    await refusedImgpro(
      await upload({ file: { bytes: new TextEncoder().encode(svg), filename: "x.svg" } }),
      413,
      "file_too_large",
      s.dataDir,
      before,
    );
  });
});
