import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { waitForLinks } from "../helpers/accounts.ts";
import { makeImage } from "../helpers/images.ts";
import { ROOT, startServer, type TestServer } from "../helpers/server.ts";
import { asBrowser, type Browserish, sessionCookie, signIn } from "../dashboard/helpers.ts";
import { sha256 } from "../imgwire/helpers.ts";

// Identity rules, tried the way an attacker would against a running server with two ordinary
// tenants (alice and bob, signed up on an open server) and anonymous callers: a key never
// mints a stronger key, a session opened with a key ends with it, an Imgwire idempotency key
// belongs to the key that sent it, a deleted username is never given again, wrong passwords
// from one address never lock the owner out, and an email address is nobody's until the link
// sent for it is opened.

const PASSWORD = "alice's long password";
const BOB_PASSWORD = "bob's own long password";
let s: TestServer;
let alice: Browserish;
let bob: Browserish;
/** Alice's full key (read,write, never expires), made from her password session. */
let aliceKey: string;
let bobKey: string;

const from = (ip: string) => ({ "x-forwarded-for": ip });
const json = (body: unknown, extra: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...extra },
  body: JSON.stringify(body),
});

async function signUp(username: string, password: string, email: string, ip: string): Promise<Browserish> {
  const res = await fetch(`${s.url}/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: s.url, ...from(ip) },
    body: JSON.stringify({ username, email, password }),
  });
  expect(res.status).toBe(201);
  return { cookie: sessionCookie(res)!, csrf: (await res.json()).csrf_token };
}

async function makeKey(who: Browserish, body: Record<string, unknown>) {
  const res = await asBrowser(s, who, "/api/v1/settings/api-keys", { method: "POST", json: body });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; key: string; scopes: string; expires_at: number | null };
}

const cli = (...args: string[]) =>
  Bun.spawnSync([process.execPath, join(ROOT, "src/main.ts"), ...args, "--data-dir", s.dataDir], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...s.env },
  });

beforeAll(async () => {
  // Trusting loopback as a proxy lets each request speak from its own client address.
  s = await startServer({ env: { IMGD_TRUST_PROXY: "127.0.0.1/32", IMGD_REGISTRATION: "open" } });
  alice = await signUp("alice", PASSWORD, "alice@example.com", "192.0.2.1");
  bob = await signUp("bob", BOB_PASSWORD, "bob@example.com", "192.0.2.2");
  // Ordinary tenants, verified by the operator (no unverified-account key limit in the way).
  for (const name of ["alice", "bob"])
    expect((await s.api(`/api/v1/admin/users/${name}`, { ...json({ verified: true }), method: "PATCH" })).status).toBe(
      200,
    );
  aliceKey = (await makeKey(alice, { name: "alice full" })).key;
  bobKey = (await makeKey(bob, { name: "bob full" })).key;
});
afterAll(() => s.stop());

describe("a key never mints a stronger key", () => {
  let weak: { id: string; key: string; expires_at: number | null };
  beforeAll(async () => {
    // What an attacker holds: alice's write-only upload key, expiring tomorrow.
    weak = await makeKey(alice, { name: "ci uploads", scopes: ["write"], expires_in_days: 1 });
    expect(weak.expires_at).not.toBeNull();
  });

  test("native: asking for read,write or no expiry is a 403; leaving them out gets the caller's own", async () => {
    const mint = (body: unknown) => s.api("/api/v1/settings/api-keys", { ...json(body), key: weak.key });
    for (const body of [
      { name: "stronger", scopes: ["read", "write"] },
      { name: "stronger", scopes: ["read", "write"], expires_in_days: null },
      { name: "longer", scopes: ["write"], expires_in_days: 30 },
      { name: "forever", expires_in_days: null },
    ]) {
      const res = await mint(body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 403]);
      const err = (await res.json()).error;
      expect(err.code).toBe("FORBIDDEN");
      expect(err.message).toMatch(/cannot make a key/);
    }
    const capped = await mint({ name: "same as me" });
    expect(capped.status).toBe(201);
    const made = await capped.json();
    expect(made.scopes).toBe("write");
    expect(made.expires_at).toBe(weak.expires_at);
    // It really cannot read: alice's library stays closed to it.
    expect((await s.api("/api/v1/images", { key: made.key })).status).toBe(403);
  });

  test("Imgwire: a SERVER or CLIENT key made with it carries its scopes and expiry; it cannot raise itself", async () => {
    const iw = (method: string, path: string, body?: unknown) =>
      s.api(`/imgwire/api/v1${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        key: weak.key,
      });
    const wide = await iw("POST", "/api_keys/", {
      name: "x",
      key_type: "SERVER",
      scopes: ["images:read", "images:write"],
    });
    expect(wide.status).toBe(403);
    expect((await wide.json()).detail).toMatch(/cannot make a key/);

    const server = await iw("POST", "/api_keys/", { name: "server", key_type: "SERVER" });
    expect(server.status).toBe(200);
    const made = await server.json();
    expect(made.scopes).toEqual(["write"]);
    expect(Math.floor(Date.parse(made.expires_at) / 1000)).toBe(weak.expires_at!);
    const reads = await s.api("/imgwire/api/v1/images/", { key: made.server_key });
    expect(reads.status).toBe(403);

    const client = await iw("POST", "/api_keys/", { name: "browser", key_type: "CLIENT" });
    expect(client.status).toBe(200);
    expect(Math.floor(Date.parse((await client.json()).expires_at) / 1000)).toBe(weak.expires_at!);

    // PATCH its own scopes (or another key's) up to read: refused, and still write-only.
    const raise = await iw("PATCH", `/api_keys/${weak.id}`, { scopes: ["images:read", "images:write"] });
    expect(raise.status).toBe(403);
    expect((await s.api("/api/v1/images", { key: weak.key })).status).toBe(403);
  });

  test("img.pro: POST /v1/keys with the weak key gives a key no stronger than it", async () => {
    const res = await s.api("/v1/keys", { ...json({ email: "alice@example.com", name: "agent" }), key: weak.key });
    expect(res.status).toBe(201);
    const made = await res.json();
    expect((await s.api("/v1/media", { key: made.key })).status).toBe(403);
    expect((await s.api("/api/v1/images", { key: made.key })).status).toBe(403);
    expect(made.scopes).toEqual(["write"]);
    expect(made.expires_at).toBe(weak.expires_at);
  });

  test("a dashboard session opened with the weak key is that key: no stronger keys from it either", async () => {
    const res = await fetch(`${s.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: s.url, ...from("192.0.2.3") },
      body: JSON.stringify({ api_key: weak.key }),
    });
    expect(res.status).toBe(200);
    const session = { cookie: sessionCookie(res)!, csrf: (await res.json()).csrf_token };
    const more = await asBrowser(s, session, "/api/v1/settings/api-keys", {
      method: "POST",
      json: { name: "via session", expires_in_days: null },
    });
    expect(more.status).toBe(403);
    const same = await asBrowser(s, session, "/api/v1/settings/api-keys", { method: "POST", json: { name: "ok" } });
    expect(same.status).toBe(201);
    expect(await same.json()).toMatchObject({ scopes: "write", expires_at: weak.expires_at });
  });
});

const keySignIn = async (key: string, ip: string) => {
  const res = await fetch(`${s.url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: s.url, ...from(ip) },
    body: JSON.stringify({ api_key: key }),
  });
  expect(res.status).toBe(200);
  return { cookie: sessionCookie(res)!, csrf: (await res.json()).csrf_token } as Browserish;
};

describe("a session opened with a key ends with the key", () => {
  test("delete the key: the cookie stops working at once", async () => {
    const k = await makeKey(bob, { name: "laptop" });
    const session = await keySignIn(k.key, "192.0.2.10");
    expect((await asBrowser(s, session, "/api/v1/images")).status).toBe(200);
    // A stolen laptop: bob deletes its key from his password session.
    expect((await asBrowser(s, bob, `/api/v1/settings/api-keys/${k.id}`, { method: "DELETE" })).status).toBe(200);
    const after = await asBrowser(s, session, "/api/v1/images");
    expect(after.status).toBe(401);
    expect((await after.json()).error.message).toContain("session has ended");
    expect((await asBrowser(s, session, "/auth/session")).status).toBe(401);
    // Bob's own password session is untouched.
    expect((await asBrowser(s, bob, "/api/v1/images")).status).toBe(200);
  });
});

describe("Imgwire idempotency keys belong to the key that sent them", () => {
  test("a public client key reusing a server key's idempotency key gets its own upload, not the pending one", async () => {
    const iw = (path: string, body: unknown, key: string) => s.api(`/imgwire/api/v1${path}`, { ...json(body), key });
    const jpg = await makeImage(64, 48, "jpg");
    const declared = {
      file_name: "contract-signed.jpg",
      mime_type: "image/jpeg",
      content_length: jpg.length,
      hash_sha256: sha256(jpg),
      idempotency_key: "order-4711",
      custom_metadata: { customer: "ACME", invoice: 4711 },
    };
    const server = await (await iw("/images/standard_upload", declared, aliceKey)).json();
    expect(server.image.status).toBe("PENDING");
    // The same key retrying: the same upload (what idempotency is for).
    const retry = await (await iw("/images/standard_upload", declared, aliceKey)).json();
    expect(retry.image.id).toBe(server.image.id);

    // The public client key (shipped in alice's web page) and a guessable idempotency key.
    const made = await (
      await iw("/api_keys/", { name: "web", key_type: "CLIENT", allow_unsigned_upload: true }, aliceKey)
    ).json();
    const stolen = await iw(
      "/images/standard_upload",
      { file_name: "x.jpg", idempotency_key: "order-4711" },
      made.client_key,
    );
    expect(stolen.status).toBe(200);
    const got = await stolen.json();
    expect(got.image.id).not.toBe(server.image.id);
    expect(got.image.original_filename).toBe("x.jpg");
    expect(got.image.custom_metadata).toEqual({});
    expect(got.upload_url).not.toBe(server.upload_url);
    // Its upload URL does not fill the server key's promise.
    const other = await makeImage(10, 10, "jpg");
    await fetch(got.upload_url, { method: "PUT", body: other as BodyInit, headers: { "content-type": "image/jpeg" } });
    const still = await (await s.api(`/imgwire/api/v1/images/${server.image.id}`, { key: aliceKey })).json();
    expect(still).toMatchObject({ status: "PENDING", original_filename: "contract-signed.jpg" });
    // The real upload still works.
    const put = await fetch(server.upload_url, {
      method: "PUT",
      body: jpg as BodyInit,
      headers: { "content-type": "image/jpeg" },
    });
    expect(put.status).toBe(200);
    // Bob's key with the same idempotency key sees nothing of alice's either.
    const bobs = await (
      await iw("/images/standard_upload", { file_name: "b.jpg", idempotency_key: "order-4711" }, bobKey)
    ).json();
    expect(bobs.image.id).not.toBe(server.image.id);
  });
});

describe("deleted usernames are never given again", () => {
  test("admin API, sign-up and the CLI refuse a deleted user's name, saying why", async () => {
    const made = await s.api("/api/v1/admin/users", json({ username: "carol" }));
    expect(made.status).toBe(201);
    const carol = await made.json();
    expect((await s.api(`/api/v1/admin/users/${carol.id}`, { method: "DELETE" })).status).toBe(200);

    const again = await s.api("/api/v1/admin/users", json({ username: "carol" }));
    expect(again.status).toBe(409);
    const err = (await again.json()).error;
    expect(err.message).toMatch(/deleted account/);
    expect(err.message).toMatch(/choose another/);

    const signup = await fetch(`${s.url}/auth/signup`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: s.url, ...from("192.0.2.20") },
      body: JSON.stringify({ username: "carol", password: "the impostor's password" }),
    });
    expect(signup.status).toBe(409);
    expect((await signup.json()).error.message).toMatch(/deleted account/);
    expect(sessionCookie(signup)).toBeNull();

    const viaCli = cli("users", "create", "carol");
    expect(viaCli.exitCode).toBe(1);
    expect(viaCli.stderr.toString()).toMatch(/deleted user/);
    // Nobody named carol exists, so nothing answers her old URLs.
    const users = (await (await s.api("/api/v1/admin/users")).json()).users as { username: string }[];
    expect(users.map((u) => u.username)).not.toContain("carol");
  });
});

describe("sign-in back-off never locks the owner out", () => {
  test("wrong passwords from one address: that address waits, the owner elsewhere, by key or by setup link, does not", async () => {
    const attacker = from("203.0.113.66");
    for (let i = 0; i < 5; i++) expect((await signIn(s, "bob", `guess ${i}`, attacker)).res.status).toBe(401);
    // The attacked pair backs off (429 + Retry-After), even for the right password.
    const blocked = await signIn(s, "bob", BOB_PASSWORD, attacker);
    expect(blocked.res.status).toBe(429);
    expect(Number(blocked.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(sessionCookie(blocked.res)).toBeNull();

    // Bob from home: signed in.
    const home = await signIn(s, "bob", BOB_PASSWORD, from("198.51.100.80"));
    expect(home.res.status).toBe(200);
    expect((await asBrowser(s, home, "/auth/session").then((r) => r.json())).user.username).toBe("bob");

    // Key sign-in from the attacked address itself: keys cannot be guessed, so it works.
    const byKey = await fetch(`${s.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: s.url, ...attacker },
      body: JSON.stringify({ api_key: bobKey }),
    });
    expect(byKey.status).toBe(200);

    // The one-time setup link from the operator works from the attacked address too.
    const link = cli("users", "passwd", "bob", "--link", "--url", s.url);
    expect(link.exitCode).toBe(0);
    const token = new URL(link.stdout.toString().trim()).hash.slice(1);
    const setup = await fetch(`${s.url}/auth/setup`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: s.url, ...attacker },
      body: JSON.stringify({ token, password: BOB_PASSWORD }),
    });
    expect(setup.status).toBe(200);
    expect((await setup.json()).user.username).toBe("bob");
  });

  test("wrong passwords from many addresses slow the account down but never refuse its owner", async () => {
    // Alice is guessed at from four addresses, five tries each: 20 failures, past the account's ceiling.
    for (let a = 0; a < 4; a++) {
      for (let i = 0; i < 5; i++)
        expect([401, 429]).toContain(
          (await signIn(s, "alice", `spray ${a}-${i}`, from(`203.0.113.${100 + a}`))).res.status,
        );
    }
    const owner = await signIn(s, "alice", PASSWORD, from("198.51.100.90"));
    expect(owner.res.status).toBe(200);
    expect(sessionCookie(owner.res)).not.toBeNull();
  }, 60_000);
});

describe("open registration never hands out an email address without proof", () => {
  test("POST /v1/keys with someone else's address: the owner can still register, and only the link makes it theirs", async () => {
    const register = (email: string, ip: string, key: string | null = null) =>
      s.api("/v1/keys", { ...json({ email, name: "agent" }, from(ip)), key });
    // The squatter registers the victim's address first.
    const squat = await register("victim@example.com", "203.0.113.200");
    expect(squat.status).toBe(201);
    const squatter = await squat.json();
    // The victim can still register (before: 403 "An account with this email exists").
    const own = await register("victim@example.com", "198.51.100.200");
    expect(own.status).toBe(201);
    const victim = await own.json();
    expect(victim.key).not.toBe(squatter.key);
    expect(victim.message).toMatch(/confirmation link/);

    // Neither account has the address yet: signing in by it or asking the admin finds nobody.
    const owners = async () =>
      ((await (await s.api("/api/v1/admin/users")).json()).users as { email: string | null }[]).filter(
        (u) => u.email === "victim@example.com",
      );
    expect(await owners()).toHaveLength(0);

    // The victim opens the link sent to the address (the last one printed: their registration).
    const links = await waitForLinks(s, "victim@example.com", 2);
    expect(links).toHaveLength(2);
    const confirmed = await fetch(links[1]);
    expect(confirmed.status).toBe(200);
    expect((await confirmed.json()).user.email).toBe("victim@example.com");
    expect(await owners()).toHaveLength(1);
    const usage = await s.api("/v1/usage", { key: victim.key });
    expect(usage.status).toBe(200);
    // The squatter's link (had it leaked) no longer gives the address away.
    expect((await fetch(links[0])).status).toBe(409);
    // Now the address is owned: another key for it needs one of its keys.
    expect((await register("victim@example.com", "203.0.113.201")).status).toBe(403);
    expect((await register("victim@example.com", "198.51.100.201", victim.key)).status).toBe(201);
  });

  test("dashboard sign-up with someone else's address does not make it the squatter's", async () => {
    const squat = await signUp("squatter", "the squatter's password", "ceo@example.com", "203.0.113.210");
    const me = await (await asBrowser(s, squat, "/auth/session")).json();
    expect(me.user.email).toBeNull();
    // The address owner can still sign up with it.
    const owner = await signUp("ceo", "the ceo's long password", "ceo@example.com", "198.51.100.210");
    expect((await (await asBrowser(s, owner, "/auth/session")).json()).user.email).toBeNull();
    const links = await waitForLinks(s, "ceo@example.com", 2);
    expect(links).toHaveLength(2);
    expect((await fetch(links[1])).status).toBe(200);
    expect((await (await asBrowser(s, owner, "/auth/session")).json()).user.email).toBe("ceo@example.com");
    // Signing in by the address opens the owner's account, never the squatter's.
    const byEmail = await signIn(s, "ceo@example.com", "the ceo's long password", from("198.51.100.211"));
    expect(byEmail.res.status).toBe(200);
    expect((await signIn(s, "ceo@example.com", "the squatter's password", from("198.51.100.212"))).res.status).toBe(
      401,
    );
  });
});

describe("a session opened with a key ends with the key (expiry)", () => {
  test("the key expires: the session ends with it, however recently used", async () => {
    const password = await signIn(s, "bob", BOB_PASSWORD, from("192.0.2.12"));
    expect(password.res.status).toBe(200);
    const k = await makeKey(password, { name: "one day", expires_in_days: 1 });
    const session = await keySignIn(k.key, "192.0.2.11");
    expect((await asBrowser(s, session, "/api/v1/images")).status).toBe(200);
    // Last test of the file: the server restarts two days on (afterAll removes the data).
    await s.stop({ keepData: true });
    const later = await startServer({
      dataDir: s.dataDir,
      env: { IMGD_TEST_CLOCK_OFFSET_MS: String(2 * 86_400_000) },
    });
    try {
      // The key has expired and the 30-day session opened with it with it; a password session has not.
      expect((await asBrowser(later, session, "/api/v1/images")).status).toBe(401);
      expect((await asBrowser(later, password, "/api/v1/images")).status).toBe(200);
    } finally {
      await later.stop({ keepData: true });
    }
  }, 60_000);
});
