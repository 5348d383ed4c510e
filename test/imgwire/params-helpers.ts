import { expect } from "bun:test";
import sharp from "sharp";
import { decode, makeImage } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { client, sha256 } from "./helpers.ts";

// Shared by the table-driven tests of Imgwire's URL parameters (params-*.test.ts): one server,
// a 160×120 gradient JPEG and a 40×40 red PNG (the watermark), and a fetch that decodes.

export interface Out {
  status: number;
  bytes: Uint8Array;
  format: string;
  width: number;
  height: number;
  /** Raw RGB(A) pixels as sharp decodes them. */
  raw: Buffer;
  channels: number;
  body: string;
}

export interface Fixture {
  s: TestServer;
  cdn: string;
  watermarkId: string;
  get(query: string): Promise<Out>;
  /** Uploads another image (same tenant) and returns its id and CDN URL. */
  upload(bytes: Uint8Array, mime: string): Promise<{ id: string; cdn: string }>;
  /** Any CDN URL with a query, decoded. */
  fetchOut(url: string, init?: RequestInit): Promise<Out>;
  stop(): Promise<void>;
}

async function upload(call: ReturnType<typeof client>, bytes: Uint8Array, mime: string) {
  const created = await call("POST", "/api/v1/images/standard_upload", "/api/v1/images/standard_upload", {
    json: { file_name: "x", mime_type: mime, content_length: bytes.length, hash_sha256: sha256(bytes) },
  });
  expect(created.status).toBe(200);
  const put = await fetch(created.body.upload_url, {
    method: "PUT",
    body: bytes as BodyInit,
    headers: { "content-type": mime },
  });
  expect(put.status).toBe(200);
  const got = await call("GET", "/api/v1/images/{image_id}", `/api/v1/images/${created.body.image.id}`);
  return { id: created.body.image.id as string, cdn: got.body.cdn_url as string };
}

export async function fixture(env: Record<string, string> = {}): Promise<Fixture> {
  const s = await startServer({ env });
  const call = client(s);
  const src = await upload(call, await makeImage(160, 120, "jpg"), "image/jpeg");
  const red = new Uint8Array(
    await sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 1 } } })
      .png()
      .toBuffer(),
  );
  const wm = await upload(call, red, "image/png");
  const f: Fixture = {
    s,
    cdn: src.cdn,
    watermarkId: wm.id,
    get: (query) => f.fetchOut(`${src.cdn}?${query}`),
    upload: (bytes, mime) => upload(call, bytes, mime),
    async fetchOut(url, init) {
      const res = await fetch(url, { headers: { accept: "image/jpeg" }, ...init });
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (res.status !== 200)
        return {
          status: res.status,
          bytes,
          format: "",
          width: 0,
          height: 0,
          raw: Buffer.alloc(0),
          channels: 0,
          body: new TextDecoder().decode(bytes),
        };
      const d = await decode(bytes);
      // Every answer is checked to be the format the URL names.
      const named = new URL(url).searchParams;
      const f = named.get("f") ?? named.get("format") ?? named.get("ext") ?? named.get("extension");
      const want = f === "jpg" ? "jpeg" : f === "tif" ? "tiff" : f;
      if (want && want !== "auto") expect(d.format).toBe(want);
      const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
      return {
        status: 200,
        bytes,
        format: d.format,
        width: d.width,
        height: d.height,
        raw: data,
        channels: info.channels,
        body: "",
      };
    },
    stop: async () => {
      await s.stop();
    },
  };
  return f;
}

/** Mean of each band over a region (default: the whole image). */
export function mean(o: Out, r = { x: 0, y: 0, w: o.width, h: o.height }): number[] {
  const sums = new Array(o.channels).fill(0);
  for (let y = r.y; y < r.y + r.h; y++)
    for (let x = r.x; x < r.x + r.w; x++)
      for (let c = 0; c < o.channels; c++) sums[c] += o.raw[(y * o.width + x) * o.channels + c]!;
  return sums.map((v) => v / (r.w * r.h));
}
export const luma = (o: Out, r?: { x: number; y: number; w: number; h: number }) => {
  const [R, G, B] = mean(o, r);
  return 0.299 * R! + 0.587 * G! + 0.114 * B!;
};
/** Mean saturation-ish: spread between the largest and smallest channel. */
export function chroma(o: Out): number {
  let sum = 0;
  for (let i = 0; i < o.width * o.height; i++) {
    const p = [0, 1, 2].map((c) => o.raw[i * o.channels + c]!);
    sum += Math.max(...p) - Math.min(...p);
  }
  return sum / (o.width * o.height);
}
/** Mean squared horizontal neighbour difference: edge energy (blur spreads an edge, lowering it). */
export function edges(o: Out): number {
  let sum = 0;
  for (let y = 0; y < o.height; y++)
    for (let x = 1; x < o.width; x++)
      for (let c = 0; c < 3; c++)
        sum += (o.raw[(y * o.width + x) * o.channels + c]! - o.raw[(y * o.width + x - 1) * o.channels + c]!) ** 2;
  return sum / (o.width * o.height);
}
export function px(o: Out, x: number, y: number): number[] {
  const i = (y * o.width + x) * o.channels;
  return Array.from(o.raw.subarray(i, i + o.channels));
}
