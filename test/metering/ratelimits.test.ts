import { afterAll, beforeAll, expect, test } from "bun:test";
import { decode, makeImage } from "../helpers/images.ts";
import { form, startServer, type TestServer } from "../helpers/server.ts";
import { nativeError, PLANS, tenant } from "./helpers.ts";

// Per-key rate limits: X-RateLimit-* on every API answer, 429 with Retry-After, one key's
// budget untouched by another's, and a fresh window the next minute.

let s: TestServer;
beforeAll(async () => {
  s = await startServer({ env: { IMGD_REGISTRATION: "open", IMGD_PLANS: PLANS } });
});
afterAll(() => s.stop());

const headers = (r: Response) => ({
  limit: r.headers.get("X-RateLimit-Limit"),
  remaining: r.headers.get("X-RateLimit-Remaining"),
  reset: Number(r.headers.get("X-RateLimit-Reset")),
});

test("headers count down, the fourth request of three gets 429 in each dialect's words, other keys keep their budget", async () => {
  const a = await tenant(s, "rpm3");
  const b = await tenant(s, "rpm3");
  // Stay inside one minute window, so the countdown is not cut by a reset.
  while (Date.now() % 60_000 > 50_000) await Bun.sleep(500);
  const seen = [];
  for (let i = 0; i < 3; i++) {
    const r = await s.api(i === 1 ? "/v1/usage" : "/api/v1/images", { key: a.key });
    expect(r.status).toBe(200);
    seen.push(headers(r));
  }
  expect(seen.map((h) => h.remaining)).toEqual(["2", "1", "0"]);
  expect(seen.every((h) => h.limit === "3")).toBe(true);
  const reset = seen[0].reset;
  expect(reset % 60).toBe(0);
  expect(reset * 1000).toBeGreaterThan(Date.now());
  expect(reset * 1000 - Date.now()).toBeLessThanOrEqual(60_000);

  const refused = await s.api("/api/v1/images", { key: a.key });
  expect(headers(refused)).toEqual({ limit: "3", remaining: "0", reset });
  const retry = Number(refused.headers.get("Retry-After"));
  expect(retry).toBeGreaterThanOrEqual(1);
  expect(retry).toBeLessThanOrEqual(60);
  await nativeError(refused, 429, "RATE_LIMIT_EXCEEDED");
  const imgpro = await s.api("/v1/media", { key: a.key });
  expect(imgpro.status).toBe(429);
  expect(imgpro.headers.get("Retry-After")).toBeTruthy();
  expect((await imgpro.json()).error.code).toBe("rate_limited");

  // The other tenant's key still has its whole budget.
  const other = await s.api("/api/v1/images", { key: b.key });
  expect(other.status).toBe(200);
  expect(headers(other).remaining).toBe("2");

  // A refused request is not counted towards the month.
  const u = await (await s.api("/api/v1/usage", { key: b.key })).json();
  expect(u.current_period.api_requests).toBe(2);
});

test("the window resets: a server whose clock is a minute on gives the key its full budget again", async () => {
  const a = await tenant(s, "rpm3");
  while (Date.now() % 60_000 > 50_000) await Bun.sleep(500);
  for (let i = 0; i < 3; i++) expect((await s.api("/api/v1/images", { key: a.key })).status).toBe(200);
  expect((await s.api("/api/v1/images", { key: a.key })).status).toBe(429);
  const later = await startServer({
    env: { IMGD_PLANS: PLANS, IMGD_TEST_CLOCK_OFFSET_MS: "60000" },
    dataDir: s.dataDir,
  });
  try {
    const r = await later.api("/api/v1/images", { key: a.key });
    expect(r.status).toBe(200);
    expect(headers(r).remaining).toBe("2");
  } finally {
    await later.stop({ keepData: true });
  }
});

test("every dialect admits the same way: the same X-RateLimit-* countdown and the same 429 with Retry-After, in its own error shape", async () => {
  const png = await makeImage(40, 30, "png");
  // Each dialect's calls, the first three admitted and the fourth refused; the error shape it answers in.
  const dialects: Record<
    string,
    { calls: (key: string) => (() => Promise<Response>)[]; refusal: (r: Response) => Promise<void> }
  > = {
    native: {
      calls: (key) => Array.from({ length: 4 }, () => () => s.api("/api/v1/images", { key })),
      refusal: async (r) => void (await nativeError(r, 429, "RATE_LIMIT_EXCEEDED")),
    },
    imgpro: {
      calls: (key) => Array.from({ length: 4 }, () => () => s.api("/v1/media", { key })),
      refusal: async (r) =>
        expect(((await r.json()) as any).error).toMatchObject({ code: "rate_limited", status: 429 }),
    },
    imgwire: {
      calls: (key) => Array.from({ length: 4 }, () => () => s.api("/imgwire/api/v1/images/", { key })),
      refusal: async (r) =>
        expect(await r.json()).toEqual({ detail: expect.stringContaining("3 requests per minute") }),
    },
    assetsrepo: {
      // The image arrives through the native API (the first of the three), then is viewed.
      calls: (key) => [
        () => s.api("/api/v1/images", { method: "POST", key, body: form({ file: { bytes: png, filename: "r.png" } }) }),
        ...Array.from({ length: 3 }, () => () => s.api("/api/images/r.png?w=20", { key })),
      ],
      refusal: async (r) => void (await nativeError(r, 429, "RATE_LIMIT_EXCEEDED")),
    },
  };
  for (const [name, d] of Object.entries(dialects)) {
    const t = await tenant(s, "rpm3");
    while (Date.now() % 60_000 > 50_000) await Bun.sleep(500);
    const calls = d.calls(t.key);
    const seen = [];
    for (const [i, call] of calls.slice(0, 3).entries()) {
      const r = await call();
      expect({ name, ok: r.ok }).toEqual({ name, ok: true });
      seen.push(headers(r));
      const body = new Uint8Array(await r.arrayBuffer());
      if (name === "assetsrepo" && i > 0)
        expect(await decode(body)).toMatchObject({ format: "png", width: 20, height: 15 });
    }
    expect({ name, seen: seen.map((h) => [h.limit, h.remaining]) }).toEqual({
      name,
      seen: [
        ["3", "2"],
        ["3", "1"],
        ["3", "0"],
      ],
    });
    const reset = seen[0].reset;
    expect(reset % 60).toBe(0);
    expect(seen.every((h) => h.reset === reset)).toBe(true);
    const refused = await calls[3]();
    expect({ name, status: refused.status, ...headers(refused) }).toEqual({
      name,
      status: 429,
      limit: "3",
      remaining: "0",
      reset,
    });
    const retry = Number(refused.headers.get("Retry-After"));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    await d.refusal(refused);
  }
});
