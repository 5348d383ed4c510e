import { afterAll, beforeAll, expect, test } from "bun:test";
import { decode, makeImage } from "../helpers/images.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { tenant } from "../metering/helpers.ts";

// img.pro's media items carry `status` and `sizes`; errors with a remedy carry an `action`
// (upgrade, verify, retry); upgrade links lead to the sign-up page.

let s: TestServer;
const json = { "content-type": "application/json" };
beforeAll(async () => {
  s = await startServer({
    env: {
      IMGD_REGISTRATION: "open",
      IMGD_ANONYMOUS_UPLOADS: "true",
      IMGD_PLANS: JSON.stringify({
        one: { uploads_per_month: 1, requests_per_minute: null },
        slow: { requests_per_minute: 1 },
      }),
    },
  });
});
afterAll(() => s.stop());

const imgproUpload = async (key: string | null, bytes: Uint8Array, name = "x.jpg") => {
  const fd = new FormData();
  fd.append("file", new Blob([bytes as BlobPart], { type: "image/jpeg" }), name);
  return s.api("/v1/upload", { method: "POST", key, body: fd });
};

test("media items: no status once ready (reference/002) and the sizes smaller than the original, each serving its size", async () => {
  const res = await imgproUpload(s.adminKey, await makeImage(1200, 800, "jpg"), "wide.jpg");
  expect(res.status).toBe(201);
  const item = (await res.json()) as any;
  // `status` appears only while an item is not ready (processing/failed): omitted here.
  expect("status" in item).toBe(false);
  expect(item.sizes).toEqual({
    s: { url: `${item.src}?size=s`, width: 480, height: 320 },
    m: { url: `${item.src}?size=m`, width: 960, height: 640 },
  });
  for (const [name, want] of Object.entries(item.sizes) as [string, any][]) {
    const served = await fetch(want.url.replace(/\.jpe?g\?/, ".webp?"));
    expect({ name, status: served.status }).toEqual({ name, status: 200 });
    expect(await decode(new Uint8Array(await served.arrayBuffer()))).toMatchObject({
      format: "webp",
      width: want.width,
      height: want.height,
    });
  }
  const got = (await (await s.api(`/v1/media/${item.id}`)).json()) as any;
  expect(got).toMatchObject({ sizes: item.sizes });
  expect("status" in got).toBe(false);
  const list = (await (await s.api("/v1/media")).json()) as any;
  const listed = list.data.find((m: any) => m.id === item.id);
  expect(listed).toMatchObject({ sizes: item.sizes });
  expect("status" in listed).toBe(false);
  // Portrait: the short edge is the width.
  const tall = (await (await imgproUpload(s.adminKey, await makeImage(500, 900, "jpg"), "tall.jpg")).json()) as any;
  expect(tall.sizes).toEqual({ s: { url: `${tall.src}?size=s`, width: 320, height: 576 } });
  // Smaller than every size: none applies, so the field is left out (img.pro's rule for optional fields).
  const small = (await (await imgproUpload(s.adminKey, await makeImage(100, 80, "jpg"), "small.jpg")).json()) as any;
  expect("status" in small).toBe(false);
  expect("sizes" in small).toBe(false);
});

test("quota_exceeded carries an upgrade action pointing at the sign-up page", async () => {
  const t = await tenant(s, "one");
  expect((await imgproUpload(t.key, await makeImage(40, 30, "jpg"))).status).toBe(201);
  const over = await imgproUpload(t.key, await makeImage(41, 30, "jpg"));
  expect(over.status).toBe(403);
  const { error } = (await over.json()) as any;
  expect(error.code).toBe("quota_exceeded");
  expect(error.action).toMatchObject({ type: "upgrade", url: `${s.url}/signup` });
  expect(typeof error.action.message).toBe("string");
});

test("key_limit_reached carries a verify action; rate_limited a retry action with the wait", async () => {
  const first = await s.api("/v1/keys", {
    method: "POST",
    key: null,
    headers: json,
    body: JSON.stringify({ email: "fidelity@example.com" }),
  });
  const { key } = (await first.json()) as any;
  for (let i = 0; i < 2; i++)
    expect(
      (
        await s.api("/v1/keys", {
          method: "POST",
          key,
          headers: json,
          body: JSON.stringify({ email: "fidelity@example.com" }),
        })
      ).status,
    ).toBe(201);
  const fourth = await s.api("/v1/keys", {
    method: "POST",
    key,
    headers: json,
    body: JSON.stringify({ email: "fidelity@example.com" }),
  });
  const e1 = ((await fourth.json()) as any).error;
  expect(e1.code).toBe("key_limit_reached");
  expect(e1.action).toMatchObject({ type: "verify", url: `${s.url}/signup` });

  const slow = await tenant(s, "slow");
  while (Date.now() % 60_000 > 55_000) await Bun.sleep(500);
  expect((await s.api("/v1/media", { key: slow.key })).status).toBe(200);
  const limited = await s.api("/v1/media", { key: slow.key });
  expect(limited.status).toBe(429);
  const e2 = ((await limited.json()) as any).error;
  expect(e2.code).toBe("rate_limited");
  expect(e2.action).toMatchObject({ type: "retry", retry_after: Number(limited.headers.get("retry-after")) });
  expect(e2.action.retry_after).toBeGreaterThan(0);
  // Errors without a remedy have no action.
  const missing = ((await (await s.api("/v1/media/nope")).json()) as any).error;
  expect(missing.code).toBe("not_found");
  expect(missing.action).toBeUndefined();
});

test("the anonymous upload's upgrade hint leads to the sign-up page", async () => {
  const res = await imgproUpload(null, await makeImage(42, 30, "jpg"));
  expect(res.status).toBe(201);
  const body = (await res.json()) as any;
  expect(body.upgrade).toMatchObject({ type: "register", url: `${s.url}/signup`, label: "Create API Key" });
});
