import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SignInGuard } from "../../src/domain/accounts/sessions.ts";
import { makeImage } from "../helpers/images.ts";
import { form, ROOT, startServer, type TestServer } from "../helpers/server.ts";
import { asBrowser, type Browserish, sessionCookie, setUp, setupLinkOf, signIn } from "./helpers.ts";

// The dashboard's accounts side over HTTP: the setup link, password sign-in and its back-off,
// sessions that authenticate the same public routes keys do, CSRF and Origin checks, sign-in
// with a key, revocation and idle expiry, sign-up, and `imgd users passwd`.

const PASSWORD = "correct horse battery staple";
let s: TestServer;
let admin: Browserish;

beforeAll(async () => {
  // Trusting loopback as a proxy lets each test speak from its own client address.
  s = await startServer({ env: { IMGD_TRUST_PROXY: "127.0.0.1/32", IMGD_REGISTRATION: "open" } });
});
afterAll(() => s.stop());

const from = (ip: string) => ({ "x-forwarded-for": ip });

describe("first start", () => {
  test("prints a one-time setup link beside the admin key; it sets the password once", async () => {
    const link = setupLinkOf(s);
    expect(link).toStartWith(`${s.url}/setup#`);
    expect(s.output().indexOf("Admin API key")).toBeLessThan(s.output().indexOf(link));
    // The page itself is the dashboard's HTML.
    const page = await fetch(link.replace(/#.*/, ""));
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");

    // Cross-site: refused, and the link is not used up.
    const token = new URL(link).hash.slice(1);
    const evil = await fetch(`${s.url}/auth/setup`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://evil.example" },
      body: JSON.stringify({ token, password: PASSWORD }),
    });
    expect(evil.status).toBe(403);
    // Too short: refused, and the link still works.
    const short = await fetch(`${s.url}/auth/setup`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: s.url },
      body: JSON.stringify({ token, password: "short" }),
    });
    expect(short.status).toBe(400);

    const r = await setUp(s, PASSWORD);
    expect(r.res.status).toBe(200);
    const set = r.res.headers.getSetCookie().find((c) => c.startsWith("imgd_session="))!;
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Lax/i);
    expect(set).not.toMatch(/Secure/i); // plain http on loopback
    expect(set).toMatch(/Max-Age=2592000/);
    admin = r;
    // Used once: a second use is refused.
    expect((await setUp(s, "another long password")).res.status).toBe(403);
  });
});

describe("sessions are principals of the public API", () => {
  test("the cookie reads and writes the same routes a key does, with the CSRF token", async () => {
    const list = await asBrowser(s, admin, "/api/v1/images");
    expect(list.status).toBe(200);
    expect(await list.json()).toMatchObject({ images: [] });
    const session = await (await asBrowser(s, admin, "/auth/session")).json();
    expect(session).toMatchObject({
      user: { username: "admin", role: "admin" },
      csrf_token: admin.csrf,
      has_password: true,
    });

    const jpg = await makeImage(320, 200, "jpg");
    const fd = form({ file: { bytes: jpg, filename: "cat.jpg", type: "image/jpeg" } });
    const up = await fetch(`${s.url}/api/v1/images`, {
      method: "POST",
      body: fd,
      headers: { cookie: admin.cookie, origin: s.url, "x-csrf-token": admin.csrf },
    });
    expect(up.status).toBe(201);
    const img = (await up.json()) as { id: string };
    // The img.pro dialect and Imgwire's mount accept the same session.
    expect((await asBrowser(s, admin, `/v1/media/${img.id}`)).status).toBe(200);
    expect((await asBrowser(s, admin, "/imgwire/api/v1/cors_origins/")).status).toBe(200);
    const tagged = await asBrowser(s, admin, "/v1/media/batch", {
      method: "PATCH",
      json: { ids: [img.id], tags: ["cats"], tag_mode: "add" },
    });
    expect(tagged.status).toBe(200);
    expect((await (await asBrowser(s, admin, "/api/v1/images?tag=cats")).json()).images).toHaveLength(1);
  });

  test("cross-site requests with the cookie are refused: bad Origin, no Origin, no or wrong CSRF token", async () => {
    const body = { name: "sneaky", params: { w: 10 } };
    const tries = [
      await asBrowser(s, admin, "/api/v1/settings/presets", {
        method: "POST",
        json: body,
        origin: "http://evil.example",
      }),
      await asBrowser(s, admin, "/api/v1/settings/presets", { method: "POST", json: body, origin: null }),
      await asBrowser(s, admin, "/api/v1/settings/presets", { method: "POST", json: body, csrf: null }),
      await asBrowser(s, admin, "/api/v1/settings/presets", { method: "POST", json: body, csrf: "x".repeat(43) }),
      // What a cross-site HTML form sends: a form body, a foreign Origin, no custom header.
      await fetch(`${s.url}/api/v1/settings/api-keys`, {
        method: "POST",
        headers: {
          cookie: admin.cookie,
          origin: "http://evil.example",
          "content-type": "application/x-www-form-urlencoded",
        },
        body: "name=pwned",
      }),
      await fetch(`${s.url}/auth/logout`, {
        method: "POST",
        headers: { cookie: admin.cookie, origin: "http://evil.example" },
      }).then(async (r) => {
        // Logout is harmless, but a cross-site one must not end the session either.
        return new Response(null, { status: (await asBrowser(s, admin, "/auth/session")).status === 200 ? 403 : 500 });
      }),
    ];
    for (const r of tries) expect(r.status).toBe(403);
    for (const r of tries.slice(0, 5)) expect((await r.json()).error.code).toBe("FORBIDDEN");
    const presets = await (await asBrowser(s, admin, "/api/v1/settings/presets")).json();
    expect(presets.presets).toEqual([]);
    const keys = await (await asBrowser(s, admin, "/api/v1/settings/api-keys")).json();
    expect(keys.api_keys.map((k: { name: string }) => k.name)).not.toContain("pwned");
    // The same request from our own page works.
    expect((await asBrowser(s, admin, "/api/v1/settings/presets", { method: "POST", json: body })).status).toBe(201);
    // A cross-site sign-in (login CSRF) is refused before the password is even checked.
    const login = await fetch(`${s.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://evil.example" },
      body: JSON.stringify({ username: "admin", password: PASSWORD }),
    });
    expect(login.status).toBe(403);
  });

  test("Secure cookie over HTTPS as a trusted proxy says; not when an untrusted client says it", async () => {
    const viaProxy = await signIn(s, "admin", PASSWORD, { "x-forwarded-proto": "https", ...from("203.0.113.50") });
    expect(viaProxy.res.headers.getSetCookie().join()).toMatch(/imgd_session=[^;]+;.*Secure/i);
    const direct = await startServer();
    try {
      const r = await setUp(direct, PASSWORD);
      expect(r.res.status).toBe(200);
      const forged = await signIn(direct, "admin", PASSWORD, { "x-forwarded-proto": "https" });
      expect(forged.res.status).toBe(200);
      expect(forged.res.headers.getSetCookie().join()).not.toMatch(/Secure/i);
    } finally {
      await direct.stop();
    }
  });
});

describe("sign-in back-off", () => {
  test("wrong passwords back off per account and address: refused there for a while even with the right one", async () => {
    const ip = from("198.51.100.1");
    for (let i = 0; i < 5; i++) {
      const r = await signIn(s, "admin", `wrong password ${i}`, ip);
      expect(r.res.status).toBe(401);
      expect(sessionCookie(r.res)).toBeNull();
    }
    // Five failures: now even the right password waits, from that address.
    const blocked = await signIn(s, "admin", PASSWORD, ip);
    expect(blocked.res.status).toBe(429);
    expect(Number(blocked.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await blocked.res.json()).error.message).toContain("Too many failed sign-ins");
    // Another address is not held back: anyone could lock the owner out otherwise.
    expect((await signIn(s, "admin", PASSWORD, from("198.51.100.2"))).res.status).toBe(200);
    await Bun.sleep(1100);
    // A sixth failure doubles the wait.
    expect((await signIn(s, "admin", "wrong again", ip)).res.status).toBe(401);
    const longer = await signIn(s, "admin", PASSWORD, ip);
    expect(longer.res.status).toBe(429);
    // Doubled: 2 s from the sixth failure (less whatever time the sign-in itself took).
    expect(Number(longer.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(longer.res.headers.get("retry-after"))).toBeLessThanOrEqual(2);
    expect([5, 6, 7, 20].map(SignInGuard.waitMs)).toEqual([1000, 2000, 4000, 15 * 60_000]);
    // The account's failures from everywhere only slow it down, by at most 2 s.
    expect([19, 20, 21, 40].map(SignInGuard.paceMs)).toEqual([0, 250, 500, 2000]);
    await Bun.sleep(2100);
    const ok = await signIn(s, "admin", PASSWORD, ip);
    expect(ok.res.status).toBe(200);
    expect((await signIn(s, "admin", "wrong once more", from("198.51.100.4"))).res.status).toBe(401);
    expect((await signIn(s, "admin", PASSWORD, from("198.51.100.4"))).res.status).toBe(200);
  }, 20_000);

  test("guessing many accounts from one address backs off per address", async () => {
    const ip = from("198.51.100.9");
    for (let i = 0; i < 5; i++) expect((await signIn(s, `nobody${i}`, "whatever password", ip)).res.status).toBe(401);
    expect((await signIn(s, "admin", PASSWORD, ip)).res.status).toBe(429);
    // The account itself is not blocked from elsewhere.
    expect((await signIn(s, "admin", PASSWORD, from("198.51.100.10"))).res.status).toBe(200);
    // Key sign-in has its own count: wrong passwords do not hold it back, bad keys do.
    const badKey = () =>
      fetch(`${s.url}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: s.url, ...ip },
        body: JSON.stringify({ api_key: `imgsrc_${"x".repeat(49)}` }),
      });
    for (let i = 0; i < 5; i++) expect((await badKey()).status).toBe(401);
    expect((await badKey()).status).toBe(429);
  });
});

describe("sign-in with an API key, revocation, expiry", () => {
  test("a key opens a session with the key's scopes", async () => {
    const made = await (
      await s.api("/api/v1/settings/api-keys", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "kiosk", scopes: ["read"] }),
      })
    ).json();
    const res = await fetch(`${s.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: s.url, ...from("192.0.2.7") },
      body: JSON.stringify({ api_key: made.key }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    const kiosk = { cookie: sessionCookie(res)!, csrf: body.csrf_token };
    expect(body.scopes).toEqual(["read"]);
    expect((await asBrowser(s, kiosk, "/api/v1/images")).status).toBe(200);
    const write = await asBrowser(s, kiosk, "/api/v1/settings/presets", {
      method: "POST",
      json: { name: "nope", params: { w: 1 } },
    });
    expect(write.status).toBe(403);
  });

  test("sessions are listed and revocable; a revoked or signed-out cookie is a 401", async () => {
    const a = await signIn(s, "admin", PASSWORD, from("192.0.2.20"));
    const b = await signIn(s, "admin", PASSWORD, from("192.0.2.21"));
    const list = (await (await asBrowser(s, a, "/auth/sessions")).json()).sessions as {
      id: string;
      current: boolean;
      ip: string;
    }[];
    expect(list.filter((x) => x.current)).toHaveLength(1);
    const other = list.find((x) => x.ip === "192.0.2.21")!;
    expect((await asBrowser(s, a, `/auth/sessions/${other.id}`, { method: "DELETE" })).status).toBe(200);
    const gone = await asBrowser(s, b, "/api/v1/images");
    expect(gone.status).toBe(401);
    expect((await gone.json()).error.message).toContain("session has ended");
    // Sign-out ends the session on the server, not only the cookie.
    const out = await asBrowser(s, a, "/auth/logout", { method: "POST" });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie().join()).toMatch(/imgd_session=;.*Max-Age=0/i);
    expect((await asBrowser(s, a, "/api/v1/images")).status).toBe(401);
  });

  test("a password changes only from a session that knows the current one; the other sessions end", async () => {
    const here = await signIn(s, "admin", PASSWORD, from("192.0.2.50"));
    const there = await signIn(s, "admin", PASSWORD, from("192.0.2.51"));
    const change = (who: Browserish, current: string, next: string) =>
      asBrowser(s, who, "/auth/password", { method: "POST", json: { current_password: current, new_password: next } });
    const withKey = await s.api("/auth/password", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ current_password: PASSWORD, new_password: "taken over by a key" }),
    });
    expect(withKey.status).toBe(403);
    expect((await change(here, "not the password", "another long one")).status).toBe(403);
    expect((await change(here, PASSWORD, "short")).status).toBe(400);
    expect((await change(here, PASSWORD, "the next admin password")).status).toBe(200);
    expect((await asBrowser(s, here, "/api/v1/images")).status).toBe(200);
    expect((await asBrowser(s, there, "/api/v1/images")).status).toBe(401);
    expect((await signIn(s, "admin", PASSWORD, from("192.0.2.52"))).res.status).toBe(401);
    expect((await change(here, "the next admin password", PASSWORD)).status).toBe(200);
  });

  test("a session idle for 30 days has ended; one used within them has not", async () => {
    const dataDir = s.dataDir;
    const a = await signIn(s, "admin", PASSWORD, from("192.0.2.30"));
    const live = await signIn(s, "admin", PASSWORD, from("192.0.2.31"));
    const DAY = 86_400_000;
    const later = async (days: number, who: Browserish) => {
      const t = await startServer({ dataDir, env: { IMGD_TEST_CLOCK_OFFSET_MS: String(days * DAY) } });
      try {
        return (await asBrowser(t, who, "/api/v1/images")).status;
      } finally {
        await t.stop();
      }
    };
    // 29 days on, both still work (and that use renews `live`).
    expect(await later(29, live)).toBe(200);
    // 31 days after sign-in, `a` sat idle; `live` was used two days before.
    expect(await later(31, a)).toBe(401);
    expect(await later(31, live)).toBe(200);
  }, 60_000);
});

describe("sign-up and the CLI", () => {
  test("open registration: a sign-up page creates a free, unverified account and signs it in", async () => {
    const res = await fetch(`${s.url}/auth/signup`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: s.url },
      body: JSON.stringify({ username: "newbie", email: "new@example.com", password: "a very long password" }),
    });
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body.user).toMatchObject({ username: "newbie", plan: "free", verified: false, role: "user" });
    const who = { cookie: sessionCookie(res)!, csrf: body.csrf_token };
    expect((await (await asBrowser(s, who, "/api/v1/usage")).json()).plan).toBe("free");
    const dup = await fetch(`${s.url}/auth/signup`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: s.url },
      body: JSON.stringify({ username: "newbie", password: "a very long password" }),
    });
    expect(dup.status).toBe(409);
    const closed = await startServer();
    try {
      const r = await fetch(`${closed.url}/auth/signup`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: closed.url },
        body: JSON.stringify({ username: "x2", password: "a very long password" }),
      });
      expect(r.status).toBe(403);
    } finally {
      await closed.stop();
    }
  });

  test("imgd users passwd sets a password from stdin and signs every session out; --link prints a new setup link", async () => {
    const before = await signIn(s, "newbie", "a very long password", from("192.0.2.40"));
    expect(before.res.status).toBe(200);
    const cli = (args: string[], stdin?: string) =>
      Bun.spawnSync(
        [process.execPath, join(ROOT, "src/main.ts"), "users", "passwd", ...args, "--data-dir", s.dataDir],
        {
          stdin: stdin ? new TextEncoder().encode(stdin) : undefined,
          stdout: "pipe",
          stderr: "pipe",
          env: { ...process.env, ...s.env },
        },
      );
    const help = Bun.spawnSync([process.execPath, join(ROOT, "src/main.ts"), "users", "passwd", "--help"], {
      stdout: "pipe",
    });
    expect(help.exitCode).toBe(0);
    expect(help.stdout.toString()).toContain("--link");
    const set = cli(["newbie"], "the new long password\n");
    expect({ code: set.exitCode, err: set.stderr.toString() }).toMatchObject({ code: 0 });
    expect((await asBrowser(s, before, "/api/v1/images")).status).toBe(401);
    expect((await signIn(s, "newbie", "a very long password", from("192.0.2.41"))).res.status).toBe(401);
    expect((await signIn(s, "newbie", "the new long password", from("192.0.2.42"))).res.status).toBe(200);
    expect(cli(["newbie"], "short\n").exitCode).toBe(1);
    expect(cli(["nobody-here"], "whatever long password\n").exitCode).toBe(1);
    const link = cli(["newbie", "--link", "--url", s.url]);
    expect(link.exitCode).toBe(0);
    const url = link.stdout.toString().trim();
    expect(url).toStartWith(`${s.url}/setup#`);
    const token = new URL(url).hash.slice(1);
    const used = await fetch(`${s.url}/auth/setup`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: s.url },
      body: JSON.stringify({ token, password: "chosen in the browser" }),
    });
    expect(used.status).toBe(200);
    expect((await used.json()).user.username).toBe("newbie");
  });
});
