import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import sharp from "sharp";
import * as tus from "tus-js-client";
import { cuttingProxy } from "../helpers/cutting-proxy.ts";
import { bigPng, makeImage } from "../helpers/images.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { storedFiles } from "../helpers/store.ts";
import { nativeError, tenant } from "../metering/helpers.ts";

// tus 1.0 resumable uploads at /api/v1/uploads/tus: tus-js-client sends a 30 MB image in 5 MB
// parts through a proxy that cuts the connection twice mid-part, and the upload resumes from
// the last offset the server kept; plus the protocol's refusals, the tenant boundary,
// termination and expiry.

const TUS = "/api/v1/uploads/tus";
const MB = 1024 * 1024;
const PLANS = JSON.stringify({
  small: { max_upload_bytes: 100_000, requests_per_minute: null, api_requests_per_month: null },
  big: { requests_per_minute: null, api_requests_per_month: null },
});

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const b64 = (s: string) => Buffer.from(s).toString("base64");

let s: TestServer;
beforeAll(async () => {
  s = await startServer({ env: { IMGD_REGISTRATION: "open", IMGD_PLANS: PLANS } });
});
afterAll(async () => {
  await s?.stop();
});

/** The upload parts a server keeps (its part store: files, or objects under its S3 prefix). */
const staged = (server: TestServer) => storedFiles(server.dataDir, "uploads");

/** A POST creating an upload with the admin key (or `key`); answers the response. */
function create(server: TestServer, length: number, opts: { key?: string | null; metadata?: string } = {}) {
  return server.api(TUS, {
    method: "POST",
    key: opts.key,
    headers: {
      "Tus-Resumable": "1.0.0",
      "Upload-Length": String(length),
      ...(opts.metadata !== undefined ? { "Upload-Metadata": opts.metadata } : {}),
    },
  });
}

function patch(
  server: TestServer,
  location: string,
  offset: number,
  body: Uint8Array,
  headers: Record<string, string> = {},
  key?: string | null,
) {
  return server.api(location, {
    method: "PATCH",
    key,
    headers: {
      "Tus-Resumable": "1.0.0",
      "Upload-Offset": String(offset),
      "Content-Type": "application/offset+octet-stream",
      ...headers,
    },
    body: new Blob([body as Uint8Array<ArrayBuffer>]),
  });
}

const head = (server: TestServer, location: string, key?: string | null) =>
  server.api(location, { method: "HEAD", key, headers: { "Tus-Resumable": "1.0.0" } });

/**
 * tus-js-client's HTTP requests made with fetch. Its Node stack writes a part into node:http's
 * request and waits for 'drain', which Bun's node:http client does not emit past its first
 * megabyte, so a 5 MB part would never be sent; the protocol (offsets, retries, resuming) is
 * still all the client's.
 */
class FetchStack implements tus.HttpStack {
  createRequest(method: string, url: string): tus.HttpRequest {
    const headers: Record<string, string> = {};
    const abort = new AbortController();
    return {
      getMethod: () => method,
      getURL: () => url,
      setHeader: (k, v) => void (headers[k] = v),
      getHeader: (k) => headers[k],
      setProgressHandler: () => {},
      getUnderlyingObject: () => abort,
      abort: async () => abort.abort(),
      send: async (body?: unknown) => {
        const res = await fetch(url, {
          method,
          headers,
          body: body == null ? undefined : new Blob([body as Uint8Array<ArrayBuffer>]),
          signal: abort.signal,
        });
        const text = await res.text();
        return {
          getStatus: () => res.status,
          getHeader: (k: string) => res.headers.get(k) ?? undefined,
          getBody: () => text,
          getUnderlyingObject: () => res,
        };
      },
    };
  }
  getName() {
    return "FetchStack";
  }
}

describe("tus uploads", () => {
  test("OPTIONS advertises the protocol without a key", async () => {
    const res = await s.api(TUS, { method: "OPTIONS", key: null });
    expect(res.status).toBe(204);
    expect(res.headers.get("tus-resumable")).toBe("1.0.0");
    expect(res.headers.get("tus-version")).toBe("1.0.0");
    expect(res.headers.get("tus-extension")?.split(",").sort()).toEqual(
      ["checksum", "creation", "creation-with-upload", "expiration", "termination"].sort(),
    );
    expect(Number(res.headers.get("tus-max-size"))).toBeGreaterThan(30 * MB);
    expect(res.headers.get("tus-checksum-algorithm")).toBe("sha256");
  });

  test("a 30 MB image survives two cut connections, resumes, and is stored byte for byte", async () => {
    const bytes = await bigPng(30 * MB);
    expect(bytes.length).toBeGreaterThan(30 * MB);
    // Mid-part: 2.5 MB into the second part, then 1 MB into the fourth (counting the resent second).
    const proxy = await cuttingProxy(s.url, [7.5 * MB, 18.5 * MB]);
    const offsets: number[] = [];
    const resumedAt: number[] = [];
    const imageHeaders: { id: string | null; url: string | null } = { id: null, url: null };
    let location = "";
    try {
      await new Promise<void>((resolve, reject) => {
        const upload = new tus.Upload(Buffer.from(bytes), {
          endpoint: `${proxy.url}${TUS}`,
          chunkSize: 5 * MB,
          httpStack: new FetchStack(),
          retryDelays: [0, 200, 500, 1000, 2000],
          headers: { Authorization: `Bearer ${s.adminKey}` },
          metadata: { filename: "big.png", path: "tus/big.png", tags: "big, resumable" },
          onAfterResponse: (req, res) => {
            if (req.getMethod() === "HEAD") resumedAt.push(Number(res.getHeader("Upload-Offset")));
            if (req.getMethod() === "PATCH" && res.getStatus() === 204) {
              offsets.push(Number(res.getHeader("Upload-Offset")));
              imageHeaders.id = res.getHeader("Imgd-Image-Id") ?? null;
              imageHeaders.url = res.getHeader("Imgd-Image-Url") ?? null;
            }
          },
          onError: reject,
          onSuccess: () => resolve(),
        });
        upload.start();
        // The upload's URL, for the HEAD below.
        const poll = setInterval(() => {
          if (upload.url) {
            location = new URL(upload.url).pathname;
            clearInterval(poll);
          }
        }, 10);
      });
    } finally {
      await proxy.close();
    }
    // Both cuts happened, mid-part, and every part that was answered moved the offset on by 5 MB
    // (the cut parts were resent from where the server had them).
    expect(proxy.stats.cuts.length).toBe(2);
    // After each cut the client asked where to go on from: the end of the last whole part.
    expect(resumedAt).toEqual([5 * MB, 15 * MB]);
    expect(offsets).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => Math.min(n * 5 * MB, bytes.length)));
    expect(imageHeaders.id).toMatch(/\S/);
    expect(imageHeaders.url).toBe(`${s.url}/i/admin/tus/big.png`);

    // The finished upload's URL names the image too.
    const h = await head(s, location);
    expect(h.status).toBe(200);
    expect(h.headers.get("upload-offset")).toBe(String(bytes.length));
    expect(h.headers.get("upload-length")).toBe(String(bytes.length));
    expect(h.headers.get("imgd-image-id")).toBe(imageHeaders.id!);
    expect(h.headers.get("imgd-image-url")).toBe(imageHeaders.url!);

    // Byte-identical original, in the library with its fields, and no parts left behind.
    const meta = (await (await s.api(`/api/v1/images/${imageHeaders.id}`)).json()) as any;
    expect(meta.metadata).toMatchObject({
      hash: sha256(bytes),
      mime_type: "image/png",
      size: bytes.length,
      original_filename: "big.png",
    });
    expect(meta.paths).toEqual(["tus/big.png"]);
    expect(meta.tags).toEqual(["big", "resumable"]);
    const original = new Uint8Array(await (await fetch(imageHeaders.url!)).arrayBuffer());
    expect(sha256(original)).toBe(sha256(bytes));
    const list = (await (await s.api("/api/v1/images?path=tus")).json()) as any;
    expect(list.images.map((i: any) => i.id)).toContain(imageHeaders.id);
    // A variant decodes to the image's pixels (sharp, in this process).
    const small = await fetch(`${imageHeaders.url}?w=100&format=png`);
    expect(small.status).toBe(200);
    const info = await sharp(new Uint8Array(await small.arrayBuffer())).metadata();
    expect({ format: info.format, width: info.width, height: info.height }).toEqual({
      format: "png",
      width: 100,
      height: 100,
    });
    expect(staged(s)).toEqual([]);
  }, 120_000);

  test("creation-with-upload and a checksum; a wrong checksum is 460 and the part is dropped", async () => {
    const bytes = await makeImage(64, 48, "png");
    const half = Math.floor(bytes.length / 2);
    const first = bytes.subarray(0, half);
    const rest = bytes.subarray(half);
    const digest = (b: Uint8Array) => `sha256 ${createHash("sha256").update(b).digest("base64")}`;
    const created = await s.api(TUS, {
      method: "POST",
      headers: {
        "Tus-Resumable": "1.0.0",
        "Upload-Length": String(bytes.length),
        "Upload-Metadata": `filename ${b64("small.png")},visibility ${b64("public")},folder ${b64("shots")}`,
        "Content-Type": "application/offset+octet-stream",
        "Upload-Checksum": digest(first),
      },
      body: new Blob([first as Uint8Array<ArrayBuffer>]),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("upload-offset")).toBe(String(half));
    expect(Date.parse(created.headers.get("upload-expires")!)).toBeGreaterThan(Date.now());
    const location = created.headers.get("location")!;
    expect(location).toMatch(/^\/api\/v1\/uploads\/tus\/[0-9a-f]{32}$/);

    const bad = await patch(s, location, half, rest, { "Upload-Checksum": digest(first) });
    expect(bad.status).toBe(460);
    expect(bad.headers.get("tus-resumable")).toBe("1.0.0");
    expect(((await bad.json()) as any).error.status).toBe(460);
    expect((await head(s, location)).headers.get("upload-offset")).toBe(String(half));
    expect(staged(s).length).toBe(1);

    // Wrong offset (409), wrong type (415), wrong protocol version (412).
    await nativeError(await patch(s, location, 0, rest), 409, "CONFLICT");
    const typed = await patch(s, location, half, rest, { "Content-Type": "application/octet-stream" });
    expect(typed.status).toBe(415);
    const version = await patch(s, location, half, rest, { "Tus-Resumable": "0.2.2" });
    expect(version.status).toBe(412);
    expect(version.headers.get("tus-version")).toBe("1.0.0");
    // Past Upload-Length: refused, nothing kept.
    await nativeError(await patch(s, location, half, new Uint8Array([...rest, 1, 2, 3])), 413, "PAYLOAD_TOO_LARGE");
    expect((await head(s, location)).headers.get("upload-offset")).toBe(String(half));

    const done = await patch(s, location, half, rest, { "Upload-Checksum": digest(rest) });
    expect(done.status).toBe(204);
    expect(done.headers.get("upload-offset")).toBe(String(bytes.length));
    const id = done.headers.get("imgd-image-id")!;
    const meta = (await (await s.api(`/api/v1/images/${id}`)).json()) as any;
    expect(meta.metadata).toMatchObject({ hash: sha256(bytes), width: 64, height: 48, original_filename: "small.png" });
    expect(meta.paths).toEqual(["shots/small.png"]);
    expect(staged(s)).toEqual([]);
  });

  test("metadata stripping: GPS goes by default, as in a multipart upload; `strip` none keeps the bytes", async () => {
    const photo = new Uint8Array(
      await sharp(await makeImage(64, 48, "jpg"))
        .withExif({ IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 2964/100" } })
        .jpeg()
        .toBuffer(),
    );
    const hasGps = async (b: Uint8Array) => Buffer.from((await sharp(b).metadata()).exif ?? []).includes("N\0");
    expect(await hasGps(photo)).toBe(true);
    const whole = async (name: string, extra = "") => {
      const res = await s.api(TUS, {
        method: "POST",
        headers: {
          "Tus-Resumable": "1.0.0",
          "Upload-Length": String(photo.length),
          "Upload-Metadata": `filename ${b64(name)},folder ${b64("strip")}${extra}`,
          "Content-Type": "application/offset+octet-stream",
        },
        body: new Blob([photo as Uint8Array<ArrayBuffer>]),
      });
      expect(res.status).toBe(201);
      const id = res.headers.get("imgd-image-id")!;
      const meta = (await (await s.api(`/api/v1/images/${id}`)).json()) as any;
      const original = new Uint8Array(await (await fetch(`${s.url}/i/admin/strip/${name}`)).arrayBuffer());
      expect(sha256(original)).toBe(meta.metadata.hash);
      return original;
    };
    const stripped = await whole("default.jpg");
    expect(await hasGps(stripped)).toBe(false);
    expect(sha256(stripped)).not.toBe(sha256(photo));
    const kept = await whole("kept.jpg", `,strip ${b64("none")}`);
    expect(sha256(kept)).toBe(sha256(photo));
    await nativeError(
      await s.api(TUS, {
        method: "POST",
        headers: {
          "Tus-Resumable": "1.0.0",
          "Upload-Length": String(photo.length),
          "Upload-Metadata": `filename ${b64("x.jpg")},strip ${b64("some")}`,
        },
      }),
      400,
      "VALIDATION_ERROR",
    );
  });

  test("Upload-Length over the plan's limit is 413 at creation, before any byte", async () => {
    const small = await tenant(s, "small");
    await nativeError(await create(s, 100_001, { key: small.key }), 413, "PAYLOAD_TOO_LARGE");
    await nativeError(await create(s, 71 * MB), 413, "PAYLOAD_TOO_LARGE");
    expect((await create(s, 100_000, { key: small.key })).status).toBe(201);
  });

  test("bad metadata is a 400 at creation; a file that is not an image is refused at the end, nothing kept", async () => {
    const before = (await (await s.api("/api/v1/images")).json()) as any;
    await nativeError(await create(s, 10, { metadata: `visibility ${b64("secret")}` }), 400, "VALIDATION_ERROR");
    await nativeError(await create(s, 0), 400, "INVALID_FILE");
    await nativeError(await create(s, 10, { metadata: `path ${b64("../x")}` }), 400, "VALIDATION_ERROR");
    await nativeError(await create(s, 10, { metadata: "filename !!!" }), 400, "VALIDATION_ERROR");
    await nativeError(await create(s, 10, { metadata: `tags ${b64("a".repeat(80))}` }), 400, "VALIDATION_ERROR");
    const text = new TextEncoder().encode("this is not an image at all");
    const c = await create(s, text.length, { metadata: `filename ${b64("notes.png")}` });
    expect(c.status).toBe(201);
    const location = c.headers.get("location")!;
    await nativeError(await patch(s, location, 0, text), 400, "INVALID_FILE");
    expect((await head(s, location)).status).toBe(404);
    const after = (await (await s.api("/api/v1/images")).json()) as any;
    expect(after.total).toBe(before.total);
    expect(staged(s)).toEqual([]);
  });

  test("another tenant's key, or none, cannot see, continue or end an upload", async () => {
    const other = await tenant(s, "big");
    const bytes = await makeImage(40, 30, "png");
    const c = await create(s, bytes.length);
    const location = c.headers.get("location")!;
    expect((await patch(s, location, 0, bytes.subarray(0, 100))).status).toBe(204);

    expect((await head(s, location, other.key)).status).toBe(404);
    await nativeError(await patch(s, location, 100, bytes.subarray(100), {}, other.key), 404, "NOT_FOUND");
    await nativeError(
      await s.api(location, { method: "DELETE", key: other.key, headers: { "Tus-Resumable": "1.0.0" } }),
      404,
      "NOT_FOUND",
    );
    expect((await head(s, location, null)).status).toBe(401);
    await nativeError(await patch(s, location, 100, bytes.subarray(100), {}, null), 401, "UNAUTHORIZED");
    // Untouched: still the owner's, at its offset.
    const h = await head(s, location);
    expect(h.status).toBe(200);
    expect(h.headers.get("upload-offset")).toBe("100");

    // Termination by the owner removes the upload and its parts.
    expect(staged(s).length).toBe(1);
    const del = await s.api(location, { method: "DELETE", headers: { "Tus-Resumable": "1.0.0" } });
    expect(del.status).toBe(204);
    expect((await head(s, location)).status).toBe(404);
    expect(staged(s)).toEqual([]);
  });
});

describe("tus expiry", () => {
  let e: TestServer;
  beforeAll(async () => {
    e = await startServer({ env: { IMGD_UPLOAD_EXPIRY: "2", IMGD_SWEEP_INTERVAL_MS: "200" } });
  });
  afterAll(async () => {
    await e?.stop();
  });

  test("an abandoned upload expires and the sweeper removes its parts", async () => {
    const bytes = await makeImage(40, 30, "png");
    const c = await create(e, bytes.length);
    expect(c.status).toBe(201);
    const expires = Date.parse(c.headers.get("upload-expires")!);
    expect(expires - Date.now()).toBeLessThanOrEqual(3000);
    const location = c.headers.get("location")!;
    expect((await patch(e, location, 0, bytes.subarray(0, 50))).status).toBe(204);
    expect(staged(e).length).toBe(1);
    let status = 0;
    for (let i = 0; i < 150; i++) {
      status = (await head(e, location)).status;
      if (status === 404 && staged(e).length === 0) break;
      await Bun.sleep(100);
    }
    expect(status).toBe(404);
    expect(staged(e)).toEqual([]);
  }, 30_000);
});
