import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { makeImage } from "../helpers/images.ts";
import { admin, createTestDatabase, POSTGRES_URL, type TestDatabase } from "../helpers/postgres.ts";
import { sharedS3, TEST_BUCKET } from "../helpers/s3.ts";
import { form, startServer, type TestServer } from "../helpers/server.ts";

// Webhooks on two imgd processes sharing one PostgreSQL database: both dispatchers look at the
// same outbox, each delivers what it claims, and every event reaches the receiver exactly once,
// in order per image, whichever node made the change.

const reachable = await admin("select 1", []).then(
  () => true,
  (err) => {
    if (process.env.IMGD_TEST_POSTGRES_URL) throw err;
    console.warn(`skipping the two-node webhook test: no PostgreSQL at ${POSTGRES_URL} (${(err as Error).message})`);
    return false;
  },
);

let db: TestDatabase;
let dataDirs: string[];
let a: TestServer;
let b: TestServer;
let key: string;
const received: { id: string; type: string; image: string; body: string; headers: Record<string, string> }[] = [];
let receiver: ReturnType<typeof Bun.serve> | undefined;

beforeAll(async () => {
  if (!reachable) return;
  receiver = Bun.serve({
    hostname: "127.0.0.2",
    port: 0,
    fetch: async (req) => {
      const body = await req.text();
      const event = JSON.parse(body);
      received.push({
        id: req.headers.get("webhook-id") ?? "",
        type: event.type,
        image: event.data.id,
        body,
        headers: Object.fromEntries(req.headers),
      });
      // A receiver that takes a moment: both nodes see the same deliveries pending meanwhile.
      await Bun.sleep(100);
      return new Response(null, { status: 204 });
    },
  });
  db = await createTestDatabase();
  dataDirs = [await mkdtemp(join(tmpdir(), "imgd-hooks-a-")), await mkdtemp(join(tmpdir(), "imgd-hooks-b-"))];
  const env = {
    ...(await sharedS3()).env,
    IMGD_STORAGE_URL: `s3://${TEST_BUCKET}/hooks-${Date.now().toString(36)}`,
    IMGD_DATABASE_URL: db.url,
    IMGD_WEBHOOK_ALLOW_NETWORKS: "127.0.0.2/32",
  };
  a = await startServer({ dataDir: dataDirs[0], env });
  b = await startServer({ dataDir: dataDirs[1], env });
  key = a.adminKey;
}, 60_000);

afterAll(async () => {
  if (!reachable) return;
  await Promise.all([a?.stop(), b?.stop()]);
  await receiver?.stop(true);
  await db.drop();
  for (const d of dataDirs) await rm(d, { recursive: true, force: true });
});

describe.skipIf(!reachable)("webhooks on two nodes", () => {
  test("changes made on either node: every event delivered exactly once, in order per image", async () => {
    const created = await a.api("/api/v1/webhooks", {
      method: "POST",
      key,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        url: `http://127.0.0.2:${receiver!.port}/hook`,
        events: ["image.created", "image.visibility_changed", "image.deleted"],
      }),
    });
    expect(created.status).toBe(201);
    const hook = (await created.json()) as { id: string; secret: string };

    // Twelve images, each made on one node, made private on the other, deleted on the first.
    const nodes = [a, b];
    const ids = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const [one, other] = [nodes[i % 2], nodes[(i + 1) % 2]];
        const up = await one.api("/api/v1/images", {
          method: "POST",
          key,
          body: form({ file: { bytes: await makeImage(20 + i, 16, "png"), filename: "x.png" }, path: `n/${i}.png` }),
        });
        expect(up.status).toBe(201);
        const { id } = (await up.json()) as { id: string };
        const vis = await other.api(`/api/v1/images/${id}/visibility`, {
          method: "PUT",
          key,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ visibility: "private" }),
        });
        expect(vis.status).toBe(200);
        expect((await one.api(`/api/v1/images/${id}`, { method: "DELETE", key })).status).toBe(200);
        return id;
      }),
    );

    const expected = ids.length * 3;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await b.api(`/api/v1/webhooks/${hook.id}/deliveries?limit=100`, { key });
      const list = ((await res.json()) as { deliveries: { status: string; attempts: number }[] }).deliveries;
      if (list.length === expected && list.every((d) => d.status === "delivered")) {
        expect(list.every((d) => d.attempts === 1)).toBe(true);
        break;
      }
      if (Date.now() > deadline) throw new Error(`not all delivered: ${JSON.stringify(list.slice(0, 3))}`);
      await Bun.sleep(100);
    }
    // Recorded as delivered: none goes out again. Each went out once.
    expect(received.length).toBe(expected);
    expect(new Set(received.map((r) => r.id)).size).toBe(expected);
    for (const id of ids)
      expect(received.filter((r) => r.image === id).map((r) => r.type)).toEqual([
        "image.created",
        "image.visibility_changed",
        "image.deleted",
      ]);
    for (const r of received) new Webhook(hook.secret).verify(r.body, r.headers);
  }, 120_000);
});
