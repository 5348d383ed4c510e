import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decode } from "../helpers/images.ts";
import { fixture, form, startServer, type TestServer } from "../helpers/server.ts";
import { mutate, mutation } from "./mutate.ts";

// Mutated images through the real server: the probe, the decoder in the worker pool and the
// delivery pipeline all meet bytes nobody made on purpose. Every upload is either stored (201,
// and then delivered as a real image) or refused with a 4xx in the native error shape; never a
// 5xx, never a hang. Small fixtures only, and a bounded number of runs, to keep CI short.

const SMALL = [
  "circle.svg",
  "check.svg",
  "prophoto.png",
  "p3.png",
  "with-alpha.png",
  "big-height.webp",
  "animated-loop-3.gif",
  "animated-loop-3.webp",
  "concert.jpg",
  "truncated.png",
];
let s: TestServer;
let sources: { name: string; bytes: Uint8Array }[];

beforeAll(async () => {
  s = await startServer();
  sources = await Promise.all(SMALL.map(async (name) => ({ name, bytes: await fixture(name) })));
});
afterAll(() => s.stop());

describe("upload fuzz", () => {
  test("mutated fixtures: 201 and a deliverable image, or a 4xx with the error shape", async () => {
    const seen = { stored: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...SMALL.keys()),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        async (i, edits) => {
          const src = sources[i];
          const bytes = mutate(src.bytes, edits);
          const res = await s.api("/api/v1/images", {
            method: "POST",
            body: form({ file: { bytes, filename: `fuzz-${src.name}` } }),
          });
          const body = (await res.json()) as any;
          if (res.status >= 500 || (res.status !== 201 && !(res.status >= 400 && res.status < 500))) {
            throw new Error(`${src.name}: HTTP ${res.status} ${JSON.stringify(body)}`);
          }
          if (res.status !== 201) {
            expect(typeof body.error?.code).toBe("string");
            expect(body.error.status).toBe(res.status);
            seen.refused++;
            return;
          }
          seen.stored++;
          // Stored means decodable: a small PNG of it must come back as one.
          const url = new URL(body.url);
          url.pathname = url.pathname.replace(/\.[^./]+$/, ".png");
          url.search = "w=24";
          const out = await fetch(url);
          if (out.status !== 200)
            throw new Error(`${src.name}: stored, but delivery answered ${out.status}: ${await out.text()}`);
          const d = await decode(new Uint8Array(await out.arrayBuffer()));
          expect(d.format).toBe("png");
          expect(d.width).toBe(24);
        },
      ),
      { numRuns: 40 },
    );
    // Both outcomes must occur, or the mutations are too mild (or too wild) to test anything.
    expect(seen.stored).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  }, 120_000);
});
