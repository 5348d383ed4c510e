import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Webhook } from "standardwebhooks";
import { makeImage } from "../helpers/images.ts";
import { form, removeDataDir, startServer, type TestServer } from "../helpers/server.ts";
import { nativeError, tenant } from "../metering/helpers.ts";

// Webhooks: endpoints a tenant registers, deliveries signed as Standard Webhooks defines
// (checked with its npm verifier), from an outbox written with the change: every event once,
// in order per image, retried while the receiver fails, delivered after a SIGKILL, and never
// to a loopback address the operator did not allow. Receivers listen on 127.0.0.2.

const ALL = [
  "image.created",
  "image.updated",
  "image.deleted",
  "image.visibility_changed",
  "variant.purged",
  "quota.warning",
];
const json = { "content-type": "application/json" };
const PLANS = JSON.stringify({
  up5: { uploads_per_month: 5, requests_per_minute: null, api_requests_per_month: null },
});

interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  event: { type: string; timestamp: string; data: { id: string } & Record<string, unknown> };
  status: number;
}

/** A webhook receiver on 127.0.0.2: every request it got, and what it answered. */
class Receiver {
  requests: Received[] = [];
  answer: (r: Received) => number = () => 204;
  port = 0;
  #server: ReturnType<typeof Bun.serve> | null = null;

  start(port = 0) {
    this.#server = Bun.serve({
      hostname: "127.0.0.2",
      port,
      fetch: async (req) => {
        const body = await req.text();
        const r: Received = {
          id: req.headers.get("webhook-id") ?? "",
          timestamp: req.headers.get("webhook-timestamp") ?? "",
          signature: req.headers.get("webhook-signature") ?? "",
          body,
          event: JSON.parse(body),
          status: 0,
        };
        r.status = this.answer(r);
        this.requests.push(r);
        return new Response(null, { status: r.status });
      },
    });
    this.port = this.#server.port ?? 0;
    return this;
  }

  async stop() {
    await this.#server?.stop(true);
    this.#server = null;
  }

  url(path = "/hook") {
    return `http://127.0.0.2:${this.port}${path}`;
  }

  /** The requests it answered 2xx. */
  get accepted() {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300);
  }

  about(imageId: string) {
    return this.accepted.filter((r) => r.event.data.id === imageId);
  }
}

/** Waits (bounded) until `check` holds; fails naming `what`. */
type Truthy<T> = Exclude<T, false | null | undefined | 0 | "">;
async function until<T>(what: string, check: () => T | Promise<T>, ms = 30_000): Promise<Truthy<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** Verifies with the Standard Webhooks library; throws on a bad signature. */
function verify(secret: string, r: Received) {
  return new Webhook(secret).verify(r.body, {
    "webhook-id": r.id,
    "webhook-timestamp": r.timestamp,
    "webhook-signature": r.signature,
  });
}

async function register(s: TestServer, url: string, events: string[], key?: string) {
  const res = await s.api("/api/v1/webhooks", {
    method: "POST",
    headers: json,
    ...(key ? { key } : {}),
    body: JSON.stringify({ url, events }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; url: string; events: string[]; secret: string };
}

async function upload(s: TestServer, bytes: Uint8Array, path: string, key?: string) {
  const res = await s.api("/api/v1/images", {
    method: "POST",
    ...(key ? { key } : {}),
    body: form({ file: { bytes, filename: "x.png" }, path }),
  });
  expect([200, 201]).toContain(res.status);
  return (await res.json()) as { id: string };
}

async function deliveries(s: TestServer, hookId: string, key?: string) {
  const res = await s.api(`/api/v1/webhooks/${hookId}/deliveries?limit=100`, key ? { key } : {});
  expect(res.status).toBe(200);
  const body = (await res.json()) as { deliveries: any[] };
  return body.deliveries;
}

const setVisibility = (s: TestServer, id: string, visibility: string) =>
  s.api(`/api/v1/images/${id}/visibility`, { method: "PUT", headers: json, body: JSON.stringify({ visibility }) });

describe("webhooks", () => {
  let s: TestServer;
  const receivers: Receiver[] = [];
  const receiver = () => {
    const r = new Receiver().start();
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    s = await startServer({
      env: {
        IMGD_WEBHOOK_ALLOW_NETWORKS: "127.0.0.2/32",
        IMGD_WEBHOOK_RETRY_DELAYS: "1,1,1",
        IMGD_REGISTRATION: "open",
        IMGD_PLANS: PLANS,
      },
    });
  });
  afterAll(async () => {
    for (const r of receivers) await r.stop();
    await s.stop();
  });

  test("every event of an image arrives once, in order, with a signature the Standard Webhooks verifier accepts", async () => {
    const r = receiver();
    const hook = await register(s, r.url(), ALL);
    expect(hook.url).toBe(r.url());
    expect(hook.events).toEqual(ALL);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(hook.secret.slice(6), "base64").length).toBeGreaterThanOrEqual(24);
    // The secret is shown once: neither the list nor the endpoint repeats it.
    const list = (await (await s.api("/api/v1/webhooks")).json()) as any;
    expect(list.webhooks.find((w: any) => w.id === hook.id)).toEqual({
      id: hook.id,
      url: hook.url,
      events: ALL,
      created_at: expect.any(Number),
    });
    expect(JSON.stringify(list)).not.toContain(hook.secret.slice(6));
    const one = (await (await s.api(`/api/v1/webhooks/${hook.id}`)).json()) as any;
    expect(one.secret).toBeUndefined();

    const { username } = ((await (await s.api("/api/v1/settings")).json()) as { settings: { username: string } })
      .settings;
    const png = await makeImage(40, 30, "png");
    const { id } = await upload(s, png, "hooks/one.png");
    // The same content under a second path: the image gains a path (image.updated).
    expect((await upload(s, png, "hooks/two.png")).id).toBe(id);
    expect((await setVisibility(s, id, "private")).status).toBe(200);
    // Asking for the visibility it has is no change and tells of none.
    expect((await setVisibility(s, id, "private")).status).toBe(200);
    expect((await s.api(`/api/v1/images/path/${username}/hooks/two.png`, { method: "DELETE" })).status).toBe(200);
    expect((await s.api(`/api/v1/images/${id}`, { method: "DELETE" })).status).toBe(200);

    const types = ["image.created", "image.updated", "image.visibility_changed", "image.updated", "image.deleted"];
    await until("five events of the image", () => r.about(id).length >= types.length);
    // Final: every delivery recorded as delivered at its first attempt, so none goes out again.
    const recorded = await until("the deliveries recorded as delivered", async () => {
      const list = await deliveries(s, hook.id);
      return list.length === types.length && list.every((d) => d.status === "delivered") && list;
    });
    expect(recorded.map((d) => d.attempts)).toEqual(types.map(() => 1));
    const got = r.about(id);
    expect(got.map((g) => g.event.type)).toEqual(types);
    expect(r.requests.length).toBe(types.length);
    expect(new Set(got.map((g) => g.id)).size).toBe(types.length);
    for (const g of got) {
      expect(verify(hook.secret, g)).toEqual(g.event);
      expect(Math.abs(Number(g.timestamp) - Date.now() / 1000)).toBeLessThan(300);
      expect(g.id).toMatch(/^msg_/);
    }
    // A wrong secret fails the verifier: the signature is the endpoint's own.
    const other = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    expect(() => verify(other, got[0])).toThrow();

    const [created, added, visibility, removed, deleted] = got.map((g) => g.event);
    expect(Date.parse(created.timestamp)).toBeGreaterThan(0);
    expect(created.data).toMatchObject({
      id,
      path: "hooks/one.png",
      visibility: "public",
      format: "png",
      width: 40,
      height: 30,
      size: png.length,
    });
    expect(String(created.data.url)).toEndWith(`/i/${username}/hooks/one.png`);
    expect((added.data.paths as string[]).sort()).toEqual(["hooks/one.png", "hooks/two.png"]);
    expect(visibility.data).toMatchObject({ id, visibility: "private", previous_visibility: "public" });
    expect(removed.data).toMatchObject({ id, paths: ["hooks/one.png"], removed_path: "hooks/two.png" });
    expect(deleted.data).toMatchObject({ id, visibility: "private" });
    // The deliveries list tells the same story, newest first.
    expect(recorded.map((d) => d.event.type)).toEqual([...types].reverse());
    expect(recorded[0]).toMatchObject({ last_status: 204, last_error: null, next_attempt_at: null });
  }, 60_000);

  test("quota.warning: the upload that takes a tenant past 80 % of its monthly uploads", async () => {
    const r = receiver();
    const t = await tenant(s, "up5");
    await register(s, r.url("/tenant"), ["quota.warning"], t.key);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await upload(s, await makeImage(20 + i, 20, "png"), `q/${i}.png`, t.key)).id);
    const warning = await until("the quota warning", () => r.accepted.find((g) => g.event.type === "quota.warning"));
    // 4 of 5 is the crossing; the 5th upload does not warn again.
    expect(warning.event.data).toMatchObject({
      id: ids[3],
      quota: "uploads",
      used: 4,
      limit: 5,
      threshold_percent: 80,
    });
    // The outbox rows commit with the uploads: after the 5th upload's answer, there is still only the one.
    const [hookId] = await hooksOf(t.key);
    expect((await deliveries(s, hookId, t.key)).length).toBe(1);
    expect(r.requests.length).toBe(1);

    // An upload refused (over the plan) tells of nothing.
    const created = await register(s, r.url("/created"), ["image.created"], t.key);
    const refused = await s.api("/api/v1/images", {
      method: "POST",
      key: t.key,
      body: form({ file: { bytes: await makeImage(31, 20, "png"), filename: "x.png" }, path: "q/over.png" }),
    });
    expect(refused.status).toBe(403);
    expect(await deliveries(s, created.id, t.key)).toEqual([]);
    expect((await deliveries(s, hookId, t.key)).length).toBe(1);
  }, 60_000);

  const hooksOf = async (key: string) =>
    ((await (await s.api("/api/v1/webhooks", { key })).json()) as any).webhooks.map((w: any) => w.id) as string[];

  test("another tenant's endpoint is not found, its events never reach it, and read keys cannot register", async () => {
    const r = receiver();
    const hook = await register(s, r.url("/owner"), ALL);
    const { id: imageId } = await upload(s, await makeImage(33, 21, "png"), "owner/a.png");
    await until("the owner's own event", () => r.about(imageId).length === 1);
    const [delivery] = await deliveries(s, hook.id);

    const attacker = await tenant(s, "up5");
    const as = { key: attacker.key };
    for (const [method, path] of [
      ["GET", `/api/v1/webhooks/${hook.id}`],
      ["DELETE", `/api/v1/webhooks/${hook.id}`],
      ["GET", `/api/v1/webhooks/${hook.id}/deliveries`],
      ["POST", `/api/v1/webhooks/${hook.id}/deliveries/${delivery.id}/redeliver`],
    ])
      await nativeError(await s.api(path, { method, ...as }), 404, "NOT_FOUND");
    expect(await hooksOf(attacker.key)).toEqual([]);
    // The attacker's own image changes reach only its own endpoints: none here.
    await upload(s, await makeImage(34, 21, "png"), "attacker/a.png", attacker.key);
    // Still the owner's, untouched, and no redelivery was made.
    expect((await s.api(`/api/v1/webhooks/${hook.id}`)).status).toBe(200);
    expect((await deliveries(s, hook.id)).length).toBe(1);
    await nativeError(await s.api("/api/v1/webhooks", { key: null }), 401, "UNAUTHORIZED");

    const readKey = await s.api("/api/v1/settings/api-keys", {
      method: "POST",
      ...as,
      headers: json,
      body: JSON.stringify({ name: "reader", scopes: ["read"] }),
    });
    const { key: reader } = (await readKey.json()) as { key: string };
    const refused = await s.api("/api/v1/webhooks", {
      method: "POST",
      key: reader,
      headers: json,
      body: JSON.stringify({ url: r.url("/x"), events: ["image.created"] }),
    });
    await nativeError(refused, 403, "FORBIDDEN");
    expect((await s.api("/api/v1/webhooks", { key: reader })).status).toBe(200);
    expect(r.requests.every((q) => q.event.data.id === imageId)).toBe(true);
  }, 60_000);

  test("bad input is a 400 in the native shape and registers nothing", async () => {
    const r = receiver();
    const before = (await hooksOf(s.adminKey)).length;
    for (const body of [
      { url: "ftp://example.com/hook", events: ["image.created"] },
      { url: "not a url", events: ["image.created"] },
      { url: "http://user:pw@example.com/hook", events: ["image.created"] },
      { url: r.url(), events: ["image.exploded"] },
      { url: r.url(), events: [] },
      { url: r.url() },
      { events: ["image.created"] },
      { url: r.url(), events: ["image.created"], extra: 1 },
      // Address literals the operator did not allow: decided without any connection.
      { url: "http://127.0.0.1:9/hook", events: ["image.created"] },
      { url: "http://[::1]:9/hook", events: ["image.created"] },
      { url: "http://[::ffff:127.0.0.1]:9/hook", events: ["image.created"] },
      { url: "http://localhost:9/hook", events: ["image.created"] },
    ]) {
      const res = await s.api("/api/v1/webhooks", { method: "POST", headers: json, body: JSON.stringify(body) });
      const e = await nativeError(res, 400, "VALIDATION_ERROR");
      expect(e.message).toMatch(/^(url|events|extra|body)/);
    }
    expect((await hooksOf(s.adminKey)).length).toBe(before);
    await nativeError(await s.api("/api/v1/webhooks/nope"), 404, "NOT_FOUND");
  });

  test("a failing receiver: retried with back-off, given up past the schedule, later events of the image wait, redelivery", async () => {
    const r = receiver();
    let failFirst = 2;
    r.answer = () => (failFirst-- > 0 ? 503 : 204);
    const hook = await register(s, r.url("/flaky"), ["image.created", "image.visibility_changed"]);
    const { id } = await upload(s, await makeImage(41, 29, "png"), "flaky/a.png");
    expect((await setVisibility(s, id, "private")).status).toBe(200);
    await until("both events", () => r.about(id).length === 2);
    // created failed twice, then went; the visibility change waited for it.
    expect(r.requests.map((q) => [q.event.type, q.status])).toEqual([
      ["image.created", 503],
      ["image.created", 503],
      ["image.created", 204],
      ["image.visibility_changed", 204],
    ]);
    expect(new Set(r.requests.slice(0, 3).map((q) => q.id)).size).toBe(1);
    for (const q of r.requests) verify(hook.secret, q);
    const done = await until("recorded", async () => {
      const l = await deliveries(s, hook.id);
      return l.every((d) => d.status === "delivered") && l;
    });
    expect(done.map((d) => [d.event.type, d.attempts])).toEqual([
      ["image.visibility_changed", 1],
      ["image.created", 3],
    ]);

    // An event the receiver always refuses: 1 + 3 retries (IMGD_WEBHOOK_RETRY_DELAYS=1,1,1), then given up;
    // the next event of the same image goes only after that.
    r.requests = [];
    let refused = "";
    r.answer = (q) => {
      if (!refused) refused = q.id;
      return q.id === refused ? 503 : 204;
    };
    expect((await setVisibility(s, id, "public")).status).toBe(200);
    expect((await setVisibility(s, id, "private")).status).toBe(200);
    await until("the next event", () => r.accepted.length === 1);
    expect(r.requests.map((q) => [q.event.data.visibility, q.status])).toEqual([
      ["public", 503],
      ["public", 503],
      ["public", 503],
      ["public", 503],
      ["private", 204],
    ]);
    const failed = await until("the given-up delivery", async () =>
      (await deliveries(s, hook.id)).find((d) => d.status === "failed"),
    );
    expect(failed).toMatchObject({ attempts: 4, last_status: 503, message_id: refused, next_attempt_at: null });
    expect(failed.last_error).toContain("503");

    // Redelivered by hand: the same webhook-id, accepted now.
    r.answer = () => 204;
    const again = await s.api(`/api/v1/webhooks/${hook.id}/deliveries/${failed.id}/redeliver`, { method: "POST" });
    expect(again.status).toBe(202);
    const queued = (await again.json()) as any;
    expect(queued).toMatchObject({ message_id: refused, status: "pending", attempts: 0 });
    await until("the redelivery", () => r.accepted.some((q) => q.id === refused));
    verify(hook.secret, r.accepted.find((q) => q.id === refused)!);
    const after = await until("the redelivery recorded", async () =>
      (await deliveries(s, hook.id)).find((d) => d.id === queued.id && d.status === "delivered"),
    );
    expect(after.attempts).toBe(1);
    // A pending one cannot be redelivered twice; a delivered one can.
    await nativeError(
      await s.api(`/api/v1/webhooks/${hook.id}/deliveries/nope/redeliver`, { method: "POST" }),
      404,
      "NOT_FOUND",
    );
    expect((await s.api(`/api/v1/webhooks/${hook.id}`, { method: "DELETE" })).status).toBe(200);
    await nativeError(await s.api(`/api/v1/webhooks/${hook.id}`), 404, "NOT_FOUND");
  }, 90_000);
});

test("without IMGD_WEBHOOK_ALLOW_NETWORKS a loopback endpoint is refused and never connected to", async () => {
  let connections = 0;
  const trap = Bun.listen({
    hostname: "127.0.0.2",
    port: 0,
    socket: {
      open(socket) {
        connections++;
        socket.end();
      },
      data() {},
    },
  });
  // A name pinned to the trap: not decidable from the URL, so refused by the fetcher at delivery.
  const s = await startServer({
    env: { IMGD_RESOLVE: `hooks.example.com=127.0.0.2:${trap.port}`, IMGD_WEBHOOK_RETRY_DELAYS: "1" },
  });
  try {
    const literal = await s.api("/api/v1/webhooks", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ url: `http://127.0.0.2:${trap.port}/hook`, events: ["image.created"] }),
    });
    expect((await nativeError(literal, 400, "VALIDATION_ERROR")).message).toContain("IMGD_WEBHOOK_ALLOW_NETWORKS");
    const hook = await register(s, "http://hooks.example.com/hook", ["image.created"]);
    await upload(s, await makeImage(30, 30, "png"), "trap/a.png");
    const failed = await until("the refused delivery given up", async () =>
      (await deliveries(s, hook.id)).find((d) => d.status === "failed"),
    );
    expect(failed.attempts).toBe(2);
    expect(failed.last_status).toBeNull();
    expect(failed.last_error).toMatch(/refused.*loopback/);
    expect(connections).toBe(0);
  } finally {
    await s.stop();
    trap.stop(true);
  }
}, 60_000);

test("imgd killed (SIGKILL) between the change and its delivery delivers it after the restart, once", async () => {
  // A port for the receiver, closed while the change happens.
  const r = new Receiver().start();
  const port = r.port;
  await r.stop();
  const env = {
    IMGD_WEBHOOK_ALLOW_NETWORKS: "127.0.0.2/32",
    // The first retry well after the kill (none in flight then), the rest quick.
    IMGD_WEBHOOK_RETRY_DELAYS: ["5", ...Array(30).fill("1")].join(","),
  };
  const first = await startServer({ env });
  const dataDir = first.dataDir;
  let second: TestServer | undefined;
  try {
    const hook = await register(first, `http://127.0.0.2:${port}/hook`, ["image.created"]);
    const { id } = await upload(first, await makeImage(37, 23, "png"), "crash/a.png");
    // Tried and failed (nobody listens): the event is in the outbox, not delivered.
    await until("a failed attempt", async () => {
      const [d] = await deliveries(first, hook.id);
      return d?.status === "pending" && d.attempts >= 1;
    });
    await first.stop({ signal: "SIGKILL", keepData: true });
    second = await startServer({ dataDir, env });
    r.start(port);
    await until("the delivery after the restart", () => r.about(id).length === 1);
    const [d] = await until("recorded as delivered", async () => {
      const l = await deliveries(second!, hook.id, first.adminKey);
      return l[0]?.status === "delivered" && l;
    });
    expect(d.message_id).toBe(r.accepted[0].id);
    verify(hook.secret, r.accepted[0]);
    expect(r.accepted.length).toBe(1);
    expect(r.requests.length).toBe(1);
  } finally {
    await r.stop();
    await second?.stop();
    await first.stop({ keepData: true });
    await removeDataDir(dataDir);
  }
}, 90_000);
