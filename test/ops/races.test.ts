import { afterAll, beforeAll, expect, test } from "bun:test";
import { makeImage } from "../helpers/images.ts";
import { form, startServer, type TestServer } from "../helpers/server.ts";

// Found by scripts/soak.ts: a new variant still queued when its image is deleted found its
// original gone and answered 500. Deleted while being transformed is a 404.

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(() => s.stop());

test("deleting an image while its new variants wait for a worker: every answer is 200 or 404, never 5xx", async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const up = await s.api("/api/v1/images", {
      method: "POST",
      body: form({ file: { bytes: await makeImage(300 + i, 200, "jpg"), filename: `race-${i}.jpg` } }),
    });
    const { id } = (await up.json()) as any;
    const requests = Array.from({ length: 12 }, (_, w) =>
      fetch(`${s.url}/i/admin/race-${i}.webp?w=${20 + w}`).then(async (r) => (await r.arrayBuffer(), r.status)),
    );
    await Bun.sleep(5);
    expect((await s.api(`/api/v1/images/${id}`, { method: "DELETE" })).status).toBe(200);
    statuses.push(...(await Promise.all(requests)));
  }
  expect(statuses.filter((x) => x !== 200 && x !== 404)).toEqual([]);
  // The race happened: some were refused.
  expect(statuses.filter((x) => x === 404).length).toBeGreaterThan(0);
}, 60_000);
