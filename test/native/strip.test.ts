import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import sharp from "sharp";
import { stripMetadata } from "../../codecs/metadata/strip.ts";
import { makeImage } from "../helpers/images.ts";
import { form, startServer, type TestServer } from "../helpers/server.ts";

// Metadata stripping on upload (`strip`: none, gps, all; the tenant's default gps): the stored
// original loses what was asked, keeps its pixels (same entropy-coded data, so the same decoded
// pixels) and its orientation; variants never carry a position.

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(() => s?.stop());

const XMP = `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>someone</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;

/** A photo as a phone writes it: EXIF with a GPS position, orientation 6 and more tags, XMP, an ICC profile. */
async function phonePhoto(format: "jpeg" | "png" | "webp"): Promise<Uint8Array> {
  const raw = Buffer.alloc(96 * 64 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7) % 251;
  let img = sharp(raw, { raw: { width: 96, height: 64, channels: 3 } })
    .withIccProfile("p3")
    .withExif({
      IFD0: { Copyright: "someone", Make: "Phone" },
      IFD3: {
        GPSLatitudeRef: "N",
        GPSLatitude: "48/1 51/1 2964/100",
        GPSLongitudeRef: "E",
        GPSLongitude: "2/1 17/1 4000/100",
      },
    })
    .withMetadata({ orientation: 6 });
  if (format === "jpeg") img = img.withXmp(XMP);
  const out = format === "jpeg" ? img.jpeg() : format === "png" ? img.png() : img.webp({ lossless: true });
  return new Uint8Array(await out.toBuffer());
}

/** IFD0 of an EXIF block ("Exif\0\0" + TIFF, or the TIFF alone): its tags, and the orientation. */
function ifd0(exif: Uint8Array | undefined): { tags: number[]; orientation?: number; gps: boolean } {
  if (!exif) return { tags: [], gps: false };
  const at = String.fromCharCode(...exif.subarray(0, 4)) === "Exif" ? 6 : 0;
  const v = new DataView(exif.buffer, exif.byteOffset + at, exif.byteLength - at);
  const le = v.getUint8(0) === 0x49;
  const ifd = v.getUint32(4, le);
  const tags: number[] = [];
  let orientation: number | undefined;
  for (let i = 0; i < v.getUint16(ifd, le); i++) {
    const e = ifd + 2 + i * 12;
    const tag = v.getUint16(e, le);
    tags.push(tag);
    if (tag === 0x0112) orientation = v.getUint16(e + 8, le);
  }
  return { tags, orientation, gps: tags.includes(0x8825) };
}

const meta = async (bytes: Uint8Array) => {
  const m = await sharp(bytes).metadata();
  return { ...m, ifd0: ifd0(m.exif ? new Uint8Array(m.exif) : undefined) };
};

/** Decoded pixels as stored (no rotation applied): identical when the image data was not touched. */
const pixels = async (bytes: Uint8Array) => new Uint8Array(await sharp(bytes).raw().toBuffer());

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function upload(bytes: Uint8Array, path: string, extra: Record<string, string> = {}) {
  return s.api("/api/v1/images", {
    method: "POST",
    body: form({ file: { bytes, filename: path.split("/").pop()! }, target_path: path, ...extra }),
  });
}

async function stored(path: string, extra: Record<string, string> = {}, bytes?: Uint8Array) {
  const sent = bytes ?? (await phonePhoto("jpeg"));
  const res = await upload(sent, path, extra);
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string; hash: string; size: number; stripped: string[] };
  const got = await fetch(`${s.url}/i/admin/${path}`);
  expect(got.status).toBe(200);
  const original = new Uint8Array(await got.arrayBuffer());
  expect(body.hash).toBe(sha256(original));
  expect(body.size).toBe(original.length);
  return { sent, body, original };
}

describe("strip on upload", () => {
  test("the default (gps): the stored original has no GPS, keeps orientation 6, its other EXIF, XMP and ICC, and its pixels", async () => {
    const { sent, body, original } = await stored("s/default.jpg");
    const before = await meta(sent);
    expect(before.ifd0.gps).toBe(true);
    expect(before.orientation).toBe(6);
    expect(body.stripped).toEqual(["gps"]);
    const after = await meta(original);
    expect(after.ifd0.gps).toBe(false);
    expect(after.orientation).toBe(6);
    expect(after.ifd0.orientation).toBe(6);
    expect(after.ifd0.tags).toContain(0x8298); // Copyright
    expect(after.xmp).toBeDefined();
    expect(after.icc).toBeDefined();
    expect(original.length).toBe(sent.length);
    expect(body.hash).not.toBe(sha256(sent));
    expect(await pixels(original)).toEqual(await pixels(sent));
    // The position is gone from the bytes, not only unreferenced: the GPS values (48/1) are zeros.
    expect(Buffer.from(original).includes(Buffer.from("GPS"))).toBe(false);
  });

  test("strip=none keeps the file as it came (same bytes, same hash)", async () => {
    const { sent, body, original } = await stored("s/none.jpg", { strip: "none" });
    expect(body.stripped).toEqual([]);
    expect(sha256(original)).toBe(sha256(sent));
    expect(body.hash).toBe(sha256(sent));
    expect((await meta(original)).ifd0.gps).toBe(true);
  });

  test("strip=all keeps only the orientation of the EXIF, drops XMP, keeps the ICC profile and the pixels", async () => {
    const { sent, body, original } = await stored("s/all.jpg", { strip: "all" });
    expect(body.stripped).toEqual(["exif", "gps", "xmp"]);
    const after = await meta(original);
    expect(after.ifd0.tags).toEqual([0x0112]);
    expect(after.orientation).toBe(6);
    expect(after.xmp).toBeUndefined();
    expect(after.icc).toBeDefined();
    expect(await pixels(original)).toEqual(await pixels(sent));
    // The upright size still follows the orientation: delivered rotated.
    const rotated = await fetch(`${s.url}/i/admin/s/all.png`);
    const m = await sharp(new Uint8Array(await rotated.arrayBuffer())).metadata();
    expect([m.width, m.height]).toEqual([64, 96]);
  });

  test("a file with nothing to strip is stored untouched", async () => {
    const plain = await makeImage(80, 60, "jpg");
    for (const strip of ["gps", "all"]) {
      const { body, original } = await stored(`s/plain-${strip}.jpg`, { strip }, plain);
      expect(body.stripped).toEqual([]);
      expect(sha256(original)).toBe(sha256(plain));
      expect(body.hash).toBe(sha256(plain));
    }
  });

  test("PNG (eXIf) and WebP (EXIF chunk): GPS removed, orientation and pixels kept", async () => {
    for (const format of ["png", "webp"] as const) {
      const sent = await phonePhoto(format);
      expect({ format, gps: (await meta(sent)).ifd0.gps }).toEqual({ format, gps: true });
      const { body, original } = await stored(`s/phone-${format}.${format}`, {}, sent);
      expect({ format, stripped: body.stripped }).toEqual({ format, stripped: ["gps"] });
      const after = await meta(original);
      expect({ format, gps: after.ifd0.gps, orientation: after.orientation }).toEqual({
        format,
        gps: false,
        orientation: 6,
      });
      expect(await pixels(original)).toEqual(await pixels(sent));
      // `all` leaves only the orientation.
      const all = await stored(`s/phone-all-${format}.${format}`, { strip: "all" }, sent);
      const allMeta = await meta(all.original);
      expect({ format, tags: allMeta.ifd0.tags, orientation: allMeta.orientation }).toEqual({
        format,
        tags: [0x0112],
        orientation: 6,
      });
    }
  });

  test("a bad strip value is a 400 in each dialect's shape, and nothing is stored", async () => {
    const count = async () => ((await (await s.api("/api/v1/images?limit=1")).json()) as { total: number }).total;
    const before = await count();
    const res = await upload(await phonePhoto("jpeg"), "s/bad.jpg", { strip: "everything" });
    expect(res.status).toBe(400);
    const err = ((await res.json()) as any).error;
    expect(err.code).toBe("VALIDATION_ERROR");
    expect(err.message).toContain("strip");
    const imgpro = await s.api("/v1/upload", {
      method: "POST",
      body: form({ file: { bytes: await phonePhoto("jpeg"), filename: "bad.jpg" }, strip: "x" }),
    });
    expect(imgpro.status).toBe(400);
    const ib = (await imgpro.json()) as any;
    expect(JSON.stringify(ib)).toContain("strip");
    expect(await count()).toBe(before);
  });

  test("img.pro's upload strips by default and says so", async () => {
    const res = await s.api("/v1/upload", {
      method: "POST",
      body: form({ file: { bytes: await phonePhoto("jpeg"), filename: "pro.jpg" } }),
    });
    expect(res.status).toBe(201);
    const item = (await res.json()) as { src: string; stripped: string[] };
    expect(item.stripped).toEqual(["gps"]);
    const original = new Uint8Array(await (await fetch(item.src)).arrayBuffer());
    expect((await meta(original)).ifd0.gps).toBe(false);
  });

  test("the tenant's setting is the default: strip_metadata=none keeps GPS", async () => {
    const put = (v: string) =>
      s.api("/api/v1/settings", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ strip_metadata: v }),
      });
    const bad = await put("some");
    expect(bad.status).toBe(400);
    const ok = await put("none");
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).settings.strip_metadata).toBe("none");
    const { body, original } = await stored("s/tenant-none.jpg");
    expect(body.stripped).toEqual([]);
    expect((await meta(original)).ifd0.gps).toBe(true);
    expect((await put("gps")).status).toBe(200);
  });

  test("no variant carries GPS, even Imgwire's strip_metadata=false (JPEG and WebP)", async () => {
    // An original that kept its position.
    await stored("s/keep.jpg", { strip: "none" });
    const urls = [
      "/i/admin/s/keep.jpg?w=48",
      "/i/admin/s/keep.webp?w=48",
      "/imgwire/cdn/admin/s/keep.jpg?width=48&strip_metadata=false&format=jpg",
      "/imgwire/cdn/admin/s/keep.jpg?width=48&strip_metadata=false&format=webp",
      "/imgwire/cdn/admin/s/keep.jpg?width=40&strip_metadata=false&keep_copyright=true&format=jpg",
    ];
    for (const url of urls) {
      const res = await fetch(`${s.url}${url}`);
      expect({ url, status: res.status }).toEqual({ url, status: 200 });
      const bytes = new Uint8Array(await res.arrayBuffer());
      const m = await meta(bytes);
      expect({ url, gps: m.ifd0.gps }).toEqual({ url, gps: false });
      expect(Buffer.from(bytes).includes(Buffer.from("GPS"))).toBe(false);
    }
    // Kept metadata is really kept (the Copyright), only the position went.
    const kept = await meta(
      new Uint8Array(
        await (
          await fetch(`${s.url}/imgwire/cdn/admin/s/keep.jpg?width=48&strip_metadata=false&format=jpg`)
        ).arrayBuffer(),
      ),
    );
    expect(kept.ifd0.tags).toContain(0x8298);
  });
});

describe("the container rewriting itself", () => {
  test("cut or garbled files never throw (a refusal to follow them keeps them as they came)", async () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (const format of ["jpeg", "png", "webp"] as const) {
      const good = await phonePhoto(format);
      for (let i = 0; i < 150; i++) {
        const bad = good.slice(0, 1 + rand(good.length));
        for (let k = 0; k < 4; k++) bad[rand(Math.min(bad.length, 2000))] = rand(256);
        for (const mode of ["gps", "all"] as const) {
          const r = stripMetadata(bad, format, mode);
          expect(r.bytes.length).toBeLessThanOrEqual(bad.length + 26);
        }
      }
    }
  });
});
