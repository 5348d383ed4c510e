import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode } from "../helpers/images.ts";
import { fixture, form, startServer, type TestServer } from "../helpers/server.ts";

// A srcset burst: the widths of one new source asked for at once, as a browser does. Whatever
// the workers do with the requests side by side, each answer must be the bytes that a request
// of its own gives.

let s: TestServer;
beforeAll(async () => {
  s = await startServer({ env: { IMGD_WORKERS: "2" } });
});
afterAll(() => s.stop());

async function upload(bytes: Uint8Array, filename: string) {
  const res = await s.api("/api/v1/images", { method: "POST", body: form({ file: { bytes, filename } }) });
  expect(res.status).toBe(201);
}
/** The same photo with bytes after its end marker: the same pixels, another blob and cache key. */
function twin(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 4);
  out.set(bytes);
  out.set([0x74, 0x77, 0x69, 0x6e], bytes.length);
  return out;
}

describe("srcset bursts", () => {
  test("four widths requested together give the same bytes as four separate requests", async () => {
    const photo = await fixture("2569067123_aca715a2ee_o.jpg"); // 2725×2225
    await upload(photo, "burst.jpg");
    await upload(twin(photo), "single.jpg");
    const widths = [320, 640, 960, 1280];
    const together = await Promise.all(
      widths.map(async (w) => {
        const res = await fetch(`${s.url}/i/admin/burst.webp?w=${w}`);
        expect(res.headers.get("x-cache")).toBe("MISS");
        return new Uint8Array(await res.arrayBuffer());
      }),
    );
    for (const [i, w] of widths.entries()) {
      const res = await fetch(`${s.url}/i/admin/single.webp?w=${w}`);
      expect(res.status).toBe(200);
      const alone = new Uint8Array(await res.arrayBuffer());
      expect(await decode(together[i]!)).toMatchObject({
        format: "webp",
        width: w,
        height: Math.round((2225 * w) / 2725),
      });
      expect(Buffer.compare(together[i]!, alone)).toBe(0);
    }
  });
});
