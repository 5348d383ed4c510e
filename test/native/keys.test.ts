import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type TestServer, ROOT, startServer } from "../helpers/server.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(() => s.stop());

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as any;
  expect(body.error.code).toBe(code);
  expect(body.error.status).toBe(status);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.path).toStartWith("/");
  return body;
}

describe("first start and health", () => {
  test("prints an admin key once: 56 characters with the imgsrc_ prefix", () => {
    expect(s.adminKey).toMatch(/^imgsrc_[A-Za-z0-9]{49}$/);
    expect(s.output().match(/imgsrc_/g)?.length).toBe(1);
  });

  test("GET /health needs no key", async () => {
    const res = await s.api("/health", { key: null });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.status).toBe("ok");
    expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  test("unknown routes are 404 in the error shape", async () => {
    await expectError(await s.api("/api/v1/nope"), 404, "NOT_FOUND");
  });
});

describe("authentication", () => {
  test("missing, malformed and unknown keys are 401", async () => {
    await expectError(await s.api("/api/v1/images", { key: null }), 401, "UNAUTHORIZED");
    await expectError(await s.api("/api/v1/images", { key: "nope" }), 401, "UNAUTHORIZED");
    await expectError(await s.api("/api/v1/images", { key: `imgsrc_${"x".repeat(49)}` }), 401, "UNAUTHORIZED");
    await expectError(
      await s.api("/api/v1/images", { headers: { authorization: `Basic ${btoa("a:b")}` }, key: null }),
      401,
      "UNAUTHORIZED",
    );
  });

  test("a key in the query string is refused with 400, even with a valid header", async () => {
    await expectError(await s.api(`/api/v1/images?api_key=${s.adminKey}`), 400, "VALIDATION_ERROR");
    await expectError(await s.api(`/api/v1/images?key=${s.adminKey}`, { key: null }), 400, "VALIDATION_ERROR");
    await expectError(await s.api(`/api/v1/images?q=${s.adminKey}`), 400, "VALIDATION_ERROR");
  });
});

describe("API keys", () => {
  test("create, list without the secret, use counts, delete revokes at once", async () => {
    const res = await s.api("/api/v1/settings/api-keys", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "CI key", scopes: ["read", "write"], expires_in_days: 90 }),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as any;
    expect(created.key).toMatch(/^imgsrc_[A-Za-z0-9]{49}$/);
    expect(created.key_prefix).toBe(created.key.slice(0, 13));
    expect(created.scopes).toBe("read,write");
    expect(created.name).toBe("CI key");
    expect(created.expires_at - created.created_at).toBe(90 * 86400);

    for (let i = 0; i < 3; i++) expect((await s.api("/api/v1/images", { key: created.key })).status).toBe(200);

    const list = (await (await s.api("/api/v1/settings/api-keys")).json()) as any;
    const item = list.api_keys.find((k: any) => k.id === created.id);
    expect(list.total).toBe(list.api_keys.length);
    expect(item).toBeDefined();
    expect(item.key).toBeUndefined();
    expect(JSON.stringify(list)).not.toContain(created.key);
    expect(item.total_requests).toBe(3);
    expect(item.last_used_at).toBeGreaterThanOrEqual(created.created_at);
    expect(item.expires_at).toBe(created.expires_at);

    const del = await s.api(`/api/v1/settings/api-keys/${created.id}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({ success: true, message: "API key deleted" });
    await expectError(await s.api("/api/v1/images", { key: created.key }), 401, "UNAUTHORIZED");
    await expectError(await s.api(`/api/v1/settings/api-keys/${created.id}`, { method: "DELETE" }), 404, "NOT_FOUND");
  });

  test("default scopes are read and write; no expiry means null", async () => {
    const created = (await (
      await s.api("/api/v1/settings/api-keys", {
        method: "POST",
        body: JSON.stringify({ name: "plain" }),
        headers: { "content-type": "application/json" },
      })
    ).json()) as any;
    expect(created.scopes).toBe("read,write");
    expect(created.expires_at).toBeNull();
  });

  test("a read-only key reads but cannot write", async () => {
    const ro = (await (
      await s.api("/api/v1/settings/api-keys", {
        method: "POST",
        body: JSON.stringify({ name: "ro", scopes: ["read"] }),
      })
    ).json()) as any;
    expect(ro.scopes).toBe("read");
    expect((await s.api("/api/v1/images", { key: ro.key })).status).toBe(200);
    const fd = new FormData();
    fd.append("file", new Blob([new Uint8Array([1, 2, 3])]), "x.jpg");
    await expectError(await s.api("/api/v1/images", { method: "POST", body: fd, key: ro.key }), 403, "FORBIDDEN");
    await expectError(
      await s.api("/api/v1/settings/api-keys", {
        method: "POST",
        body: JSON.stringify({ name: "escalate" }),
        key: ro.key,
      }),
      403,
      "FORBIDDEN",
    );
  });

  test("bad bodies are 400 naming the field", async () => {
    const post = (body: string) =>
      s.api("/api/v1/settings/api-keys", { method: "POST", body, headers: { "content-type": "application/json" } });
    for (const [body, field] of [
      ["{}", "name"],
      [JSON.stringify({ name: "" }), "name"],
      [JSON.stringify({ name: "x".repeat(101) }), "name"],
      [JSON.stringify({ name: "a", scopes: ["admin"] }), "scopes"],
      [JSON.stringify({ name: "a", scopes: [] }), "scopes"],
      [JSON.stringify({ name: "a", expires_in_days: 0 }), "expires_in_days"],
      [JSON.stringify({ name: "a", expires_in_days: 366 }), "expires_in_days"],
      [JSON.stringify({ name: "a", expires_in_days: 1.5 }), "expires_in_days"],
      [JSON.stringify({ name: "a", expires_in_days: "30" }), "expires_in_days"],
      [JSON.stringify({ name: "a", surprise: 1 }), "surprise"],
      ["{not json", "body"],
    ]) {
      const e = await expectError(await post(body), 400, "VALIDATION_ERROR");
      expect(e.error.message).toContain(field);
    }
  });
});

describe("expiry and other users (clock and CLI)", () => {
  test("an expired key is 401; another user's key sees none of the admin's images", async () => {
    const dataDir = s.dataDir;
    const cli = (...args: string[]) => {
      const p = Bun.spawnSync([process.execPath, `${ROOT}/src/main.ts`, ...args, "--data-dir", dataDir], {
        env: { ...process.env, ...s.env },
      });
      expect(p.exitCode).toBe(0);
      return p.stdout.toString().trim();
    };
    const short = cli("keys", "create", "--name", "short", "--expires-in-days", "1");
    expect(short).toMatch(/^imgsrc_[A-Za-z0-9]{49}$/);
    cli("users", "create", "bob");
    const bobKey = cli("keys", "create", "--user", "bob");
    expect((await s.api("/api/v1/images", { key: short })).status).toBe(200);

    // The same data directory, seen two days later.
    const later = await startServer({ dataDir, env: { IMGD_TEST_CLOCK_OFFSET_MS: String(2 * 86_400_000) } });
    try {
      await expectError(await later.api("/api/v1/images", { key: short }), 401, "UNAUTHORIZED");
      expect((await later.api("/api/v1/images", { key: bobKey })).status).toBe(200);
    } finally {
      await later.stop();
    }
  });
});
