import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { confirmEmail } from "../helpers/accounts.ts";
import { makeImage } from "../helpers/images.ts";
import { type TestServer, ROOT, form, startServer } from "../helpers/server.ts";
import { query } from "../helpers/store.ts";

// POST /v1/keys (registration), unverified limits, the admin users API and the users CLI.

let s: TestServer;
beforeAll(async () => {
  s = await startServer({ env: { IMGD_REGISTRATION: "open" } });
});
afterAll(() => s.stop());

const register = (body: unknown, key: string | null = null, server = s) =>
  server.api("/v1/keys", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    key,
  });
const json = (method: string, path: string, body?: unknown, key?: string) =>
  s.api(path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    key,
  });

describe("registration", () => {
  test("closed by default: registration_closed", async () => {
    const closed = await startServer();
    try {
      const res = await register({ email: "dev@example.com" }, null, closed);
      expect(res.status).toBe(403);
      expect(((await res.json()) as any).error.code).toBe("registration_closed");
      expect(query(closed.dataDir, "select count(*) n from users")[0].n).toBe(1);
    } finally {
      await closed.stop();
    }
  });

  test("open: an unverified account and its key, usable on every dialect; max 3 active keys", async () => {
    const res = await register({ email: "Dev@Example.com", name: "my-agent" });
    expect(res.status).toBe(201);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({
      status: "active",
      verified: false,
      limits: { uploads: 100, storage_mb: 5120, retention_days: 30 },
    });
    expect(body.key).toMatch(/^imgsrc_[A-Za-z0-9]{49}$/);
    const key = body.key as string;
    // The same key on the native API and the img.pro API.
    expect((await s.api("/api/v1/images", { key })).status).toBe(200);
    const up = await s.api("/v1/upload", {
      method: "POST",
      key,
      body: form({ file: { bytes: await makeImage(30, 20, "jpg"), filename: "u.jpg" } }),
    });
    expect(up.status).toBe(201);
    const item = (await up.json()) as any;
    // Unverified: uploads expire after retention_days.
    expect(item.expires_at - item.created_at).toBeWithin(30 * 86400 - 2, 30 * 86400 + 2);
    expect(up.headers.get("x-monthly-uploads-limit")).toBe("100");
    expect(up.headers.get("x-storage-limit")).toBe(String(5120 * 1024 * 1024));

    // The address is the account's once the link printed for it is opened; then another key
    // for it needs a key of that account.
    await confirmEmail(s, "dev@example.com");
    const stranger = await register({ email: "dev@example.com" });
    expect(stranger.status).toBe(403);
    expect(((await stranger.json()) as any).error.code).toBe("forbidden");
    expect((await register({ email: "dev@example.com" }, key)).status).toBe(201);
    expect((await register({ email: "dev@example.com" }, key)).status).toBe(201);
    const fourth = await register({ email: "dev@example.com" }, key);
    expect(fourth.status).toBe(403);
    expect(((await fourth.json()) as any).error.code).toBe("key_limit_reached");
    expect(
      query(
        s.dataDir,
        "select count(*) n from api_keys k join users u on u.id = k.user_id where u.email = 'dev@example.com'",
      )[0].n,
    ).toBe(3);
    // The native key route enforces the same limit.
    const native = await json("POST", "/api/v1/settings/api-keys", { name: "x" }, key);
    expect(native.status).toBe(403);

    // Verified by the admin: limits lifted, no retention.
    const users = (await (await s.api("/api/v1/admin/users")).json()) as any;
    const dev = users.users.find((u: any) => u.email === "dev@example.com");
    // img.pro's own account plan (70 MB uploads); img.pro's /v1/usage calls it "free", as img.pro does.
    expect(dev).toMatchObject({ verified: false, plan: "imgpro" });
    expect((await s.api("/api/v1/admin/users", { key })).status).toBe(403);
    const v = await json("PATCH", `/api/v1/admin/users/${dev.id}`, { verified: true });
    expect(((await v.json()) as any).verified).toBe(true);
    expect((await json("POST", "/api/v1/settings/api-keys", { name: "x" }, key)).status).toBe(201);
    const up2 = (await (
      await s.api("/v1/upload", {
        method: "POST",
        key,
        body: form({ file: { bytes: await makeImage(31, 20, "jpg"), filename: "u.jpg" } }),
      })
    ).json()) as any;
    expect(up2.expires_at).toBeUndefined();
    const usage = (await (await s.api("/v1/usage", { key })).json()) as any;
    expect(usage).toMatchObject({
      plan: "free",
      verified: true,
      monthly: { uploads: 2, uploads_limit: 100, uploads_remaining: 98 },
    });

    // Deleted by the admin: keys stop working, images go.
    expect((await s.api(`/api/v1/admin/users/${dev.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await s.api("/v1/usage", { key })).status).toBe(401);
    expect(query(s.dataDir, "select count(*) n from images where user_id = ?", dev.id)[0].n).toBe(0);
  });

  test("bad emails; 5 per email per hour", async () => {
    for (const email of ["", "nope", "a@", "@b.co", "a b@c.de"]) {
      const res = await register({ email });
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error.code).toBe("validation_error");
    }
    const first = (await (await register({ email: "rate@example.com" })).json()) as any;
    for (let i = 0; i < 4; i++) await register({ email: "rate@example.com" }, first.key);
    const sixth = await register({ email: "rate@example.com" }, first.key);
    expect(sixth.status).toBe(429);
    expect(((await sixth.json()) as any).error.code).toBe("rate_limited");
    expect(Number(sixth.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  test("20 per IP per hour, counted in the database (a restart forgets nothing)", async () => {
    const fresh = await startServer({ env: { IMGD_REGISTRATION: "open" } });
    try {
      for (let i = 0; i < 12; i++)
        expect((await register({ email: `ip${i}@example.com` }, null, fresh)).status).toBe(201);
      await fresh.stop({ keepData: true });
      const again = await startServer({ env: { IMGD_REGISTRATION: "open" }, dataDir: fresh.dataDir });
      try {
        for (let i = 12; i < 20; i++)
          expect((await register({ email: `ip${i}@example.com` }, null, again)).status).toBe(201);
        const res = await register({ email: "ip20@example.com" }, null, again);
        expect(res.status).toBe(429);
        expect(((await res.json()) as any).error.message).toContain("per IP");
      } finally {
        await again.stop();
      }
    } finally {
      const { rm } = await import("node:fs/promises");
      await rm(fresh.dataDir, { recursive: true, force: true });
    }
  });
});

describe("users CLI", () => {
  test("verify and delete", async () => {
    const body = (await (await register({ email: "cli@example.com" })).json()) as any;
    await confirmEmail(s, "cli@example.com");
    const run = (...args: string[]) =>
      Bun.spawnSync([process.execPath, `${ROOT}/src/main.ts`, "users", ...args, "--data-dir", s.dataDir], {
        env: { ...process.env, ...s.env },
      });
    const v = run("verify", "cli@example.com");
    expect(v.exitCode).toBe(0);
    expect(query(s.dataDir, "select verified from users where email = 'cli@example.com'")[0].verified).toBe(1);
    expect(new TextDecoder().decode(run("list").stdout)).toMatch(/cli@example\.com/);
    expect(run("verify", "nobody").exitCode).toBe(1);
    const d = run("delete", "cli@example.com");
    expect(d.exitCode).toBe(0);
    expect((await s.api("/v1/usage", { key: body.key })).status).toBe(401);
  });
});
