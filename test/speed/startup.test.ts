import { describe, expect, test } from "bun:test";
import { CodecPool } from "../../codecs/pool.ts";
import type { TransformSpec } from "../../codecs/types.ts";
import { decode, makeImage } from "../helpers/images.ts";
import { fixture, form, startServer } from "../helpers/server.ts";

// imgd listens before its codec workers are warm; a request that needs one waits for it.

const spec: TransformSpec = {
  width: 300,
  fit: "inside",
  enlarge: false,
  gravity: "centre",
  format: "webp",
  quality: 80,
  keepMetadata: false,
};

describe("start-up: listen first, jobs wait for a warm worker", () => {
  test("a job submitted before any worker is ready waits and gets the same bytes as on a warm pool", async () => {
    const photo = await fixture("2569067123_aca715a2ee_o.jpg");
    const cold = new CodecPool({ size: 1, maxQueue: 4, jobTimeoutMs: 60_000, maxSourcePixels: 50_000_000 });
    try {
      const starting = cold.start();
      expect(cold.stats().workers).toBe(0); // nothing is warm yet
      const early = cold.transform(photo.slice(), spec);
      expect(cold.stats().queued).toBe(1);
      const out = await early;
      await starting;
      expect(await decode(out.data)).toMatchObject({ format: "webp", width: 300, height: 245 });
      // Once warm, the same job gives the same bytes: waiting changed nothing but the timing.
      const again = await cold.transform(photo.slice(), spec);
      expect(Buffer.compare(again.data, out.data)).toBe(0);
      expect(cold.start()).toBe(starting); // start() is idempotent
    } finally {
      await cold.close();
    }
  });

  test("requests sent the moment the server listens are answered correctly", async () => {
    const first = await startServer();
    const key = first.adminKey;
    const up = await first.api("/api/v1/images", {
      method: "POST",
      body: form({ file: { bytes: await makeImage(900, 600, "jpg"), filename: "early.jpg" } }),
    });
    expect(up.status).toBe(201);
    const dataDir = first.dataDir;
    await first.stop({ keepData: true });

    const s = await startServer({ dataDir });
    try {
      // All at once, as soon as "listening" is printed: a health check, a new variant, an upload.
      const [health, variant, upload] = await Promise.all([
        fetch(`${s.url}/health`),
        fetch(`${s.url}/i/admin/early.webp?w=450`),
        fetch(`${s.url}/api/v1/images`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}` },
          body: form({ file: { bytes: await makeImage(320, 200, "png"), filename: "late.png" } }),
        }),
      ]);
      expect(health.status).toBe(200);
      expect(variant.status).toBe(200);
      expect(await decode(new Uint8Array(await variant.arrayBuffer()))).toMatchObject({
        format: "webp",
        width: 450,
        height: 300,
      });
      expect(upload.status).toBe(201);
      expect(((await upload.json()) as { dimensions: unknown }).dimensions).toEqual({ width: 320, height: 200 });
    } finally {
      await s.stop();
    }
  });
});
