import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { decode, makeImage } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";

// Issue 23, custom domains from the attacker's side: two ordinary tenants (Imgwire environments
// with their own server keys) and an anonymous client. A tenant may not claim a name imgd
// answers as itself; a domain is proved with a token naming the tenant and the domain; a
// connected domain serves its owner's images and nothing else.
//
// No request or DNS query leaves the machine: two tenants' names are pinned with IMGD_RESOLVE
// to 127.0.0.2, where this test serves the HTTP proof; imgd asks its DNS questions of this
// test's DNS server on 127.0.0.2 (IMGD_DNS_SERVERS), which knows TXT records only; every
// other name tried is refused before any look-up. Requests "to" a domain are requests to
// 127.0.0.1 with that Host header.

const ALICE_HOST = "shop.alice.example";
const BOB_HOST = "shop.bob.example";
const PUBLIC_HOST = "imgd.example.com";
const CAROL_HOST = "img.carol.example";
/** A name that leads inside (pinned to a loopback address imgd may not fetch from). */
const INSIDE_HOST = "inside.carol.example";

let s: TestServer;
let proof: ReturnType<typeof Bun.serve>;
/** A service on 127.0.0.1 that imgd must never be made to contact; it would vouch for anyone. */
let internal: ReturnType<typeof Bun.serve>;
const internalHits: string[] = [];
/** What the tenants' own web server answers on /.well-known/imgd-challenge (per Host). */
const published = new Map<string, string>();
const seen: string[] = [];
/** TXT records the test's DNS server answers, and the questions it was asked. */
const txt = new Map<string, string>();
const questions: string[] = [];
let dns: Socket;

/** A DNS server for one kind of question: TXT from `txt`; anything else has no records. */
function dnsAnswer(msg: Buffer): Buffer {
  const labels: string[] = [];
  let i = 12;
  while (msg[i]) {
    labels.push(msg.subarray(i + 1, i + 1 + msg[i]).toString());
    i += msg[i] + 1;
  }
  const name = labels.join(".").toLowerCase();
  const type = msg.readUInt16BE(i + 1);
  questions.push(`${type === 16 ? "TXT" : type} ${name}`);
  const record = type === 16 ? txt.get(name) : undefined;
  const header = Buffer.from(msg.subarray(0, 12));
  header.writeUInt16BE(0x8180, 2); // a response, recursion available, no error
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(record ? 1 : 0, 6);
  header.writeUInt32BE(0, 8);
  const question = msg.subarray(12, i + 5);
  if (!record) return Buffer.concat([header, question]);
  const data = Buffer.from(record);
  const rr = Buffer.concat([
    // TTL 0: resolvers that cache answers (c-ares does) ask again each time.
    Buffer.from([0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 0]),
    Buffer.from([0, data.length + 1, data.length]),
    data,
  ]);
  return Buffer.concat([header, question, rr]);
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  proof = Bun.serve({
    hostname: "127.0.0.2",
    port: 0,
    fetch(req) {
      const host = (req.headers.get("host") ?? "").replace(/:\d+$/, "");
      seen.push(`${host} ${new URL(req.url).pathname}`);
      const body = published.get(host);
      return new URL(req.url).pathname === "/.well-known/imgd-challenge" && body
        ? new Response(`${body}\n`)
        : new Response("no", { status: 404 });
    },
  });
  internal = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      internalHits.push(new URL(req.url).pathname);
      return new Response([...published.values()].join("\n"));
    },
  });
  dns = createSocket("udp4");
  dns.on("message", (msg, from) => dns.send(dnsAnswer(msg), from.port, from.address));
  await new Promise<void>((done) => dns.bind(0, "127.0.0.2", () => done()));
  s = await startServer({
    env: {
      IMGD_DNS_SERVERS: `127.0.0.2:${dns.address().port}`,
      IMGD_PUBLIC_URL: `http://${PUBLIC_HOST}`,
      IMGD_IMPORT_ALLOW_NETWORKS: "127.0.0.2/32",
      IMGD_RESOLVE: [
        `${ALICE_HOST}=127.0.0.2:${proof.port}`,
        `${BOB_HOST}=127.0.0.2:${proof.port}`,
        `${INSIDE_HOST}=127.0.0.1:${internal.port}`,
      ].join(","),
    },
  });
});
afterAll(async () => {
  proof.stop(true);
  internal.stop(true);
  dns.close();
  await s.stop();
});

/** Talks to the Imgwire API as one key; answers status and JSON body. */
async function iw(key: string, method: string, path: string, json?: unknown) {
  const res = await s.api(`/imgwire/api/v1${path}`, {
    method,
    key,
    headers: json === undefined ? {} : { "content-type": "application/json" },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as any };
}

/** A new environment (tenant) with its own server key. */
async function tenant(name: string) {
  const env = await iw(s.adminKey, "POST", "/environments/", { name });
  expect(env.status).toBe(200);
  const res = await s.api("/imgwire/api/v1/api_keys/", {
    method: "POST",
    headers: { "content-type": "application/json", "x-environment-id": env.body.id },
    body: JSON.stringify({ name: `${name} server`, key_type: "SERVER" }),
  });
  expect(res.status).toBe(200);
  return { id: env.body.id as string, key: ((await res.json()) as any).server_key as string };
}

/** Uploads an image as the tenant; answers its Imgwire record. */
async function upload(key: string, bytes: Uint8Array) {
  const created = await iw(key, "POST", "/images/standard_upload", {
    file_name: "photo.jpg",
    mime_type: "image/jpeg",
    content_length: bytes.length,
    hash_sha256: sha256(bytes),
  });
  expect(created.status).toBe(200);
  // The upload URL names the public URL's host; the bytes go to the server under test.
  const url = new URL(created.body.upload_url);
  const put = await fetch(`${s.url}${url.pathname}${url.search}`, {
    method: "PUT",
    body: bytes as BodyInit,
    headers: { "content-type": "image/jpeg" },
  });
  expect(put.status).toBe(200);
  return (await iw(key, "GET", `/images/${created.body.image.id}`)).body;
}

/** A request to imgd as if sent to `host`. */
const onHost = (host: string, path: string, headers: Record<string, string> = {}) =>
  fetch(`${s.url}${path}`, { headers: { host, ...headers }, redirect: "manual" });

let alice: { id: string; key: string };
let bob: { id: string; key: string };

describe("custom domains", () => {
  test("a tenant cannot claim a name imgd answers as itself, in any spelling", async () => {
    alice = await tenant("alice");
    for (const name of [
      "localhost",
      "LOCALHOST.",
      "api.localhost",
      "127.0.0.1",
      "127.1.2.3",
      PUBLIC_HOST,
      `${PUBLIC_HOST.toUpperCase()}.`,
      "intranet",
    ]) {
      const r = await iw(alice.key, "POST", "/custom_domain/", { hostname: name });
      expect({ name, status: r.status }).toEqual({ name, status: 422 });
      expect(JSON.stringify(r.body.detail)).toContain("custom domain");
    }
    expect((await iw(alice.key, "GET", "/custom_domain/")).status).toBe(404);
    // imgd still answers as itself on those names.
    for (const host of ["localhost", "LOCALHOST.", PUBLIC_HOST, "127.0.0.1"]) {
      const health = await onHost(host, "/health");
      expect(health.status).toBe(200);
      expect(((await health.json()) as any).status).toBe("ok");
    }
    // Nothing was fetched or looked up for any of them.
    expect(seen).toEqual([]);
    expect(questions).toEqual([]);
  });

  test("the proof names the tenant and the domain: another tenant's token does not connect", async () => {
    bob = await tenant("bob");
    const a = await iw(alice.key, "POST", "/custom_domain/", { hostname: ALICE_HOST });
    expect(a.status).toBe(200);
    // Imgwire's record; the DCV pair is the TXT record that proves the name.
    expect(a.body).toMatchObject({
      hostname: ALICE_HOST,
      cname_record: ALICE_HOST,
      cname_value: PUBLIC_HOST,
      dcv_cname_record: `_imgd-challenge.${ALICE_HOST}`,
      status: "PENDING",
      certificate_status: "PENDING",
    });
    expect(a.body.dcv_cname_value).toStartWith(`imgd-verify=${alice.id}:`);
    const b = await iw(bob.key, "POST", "/custom_domain/", { hostname: BOB_HOST });
    expect(b.body.dcv_cname_value).toStartWith(`imgd-verify=${bob.id}:`);
    expect(b.body.dcv_cname_value.split(":")[1]).not.toBe(a.body.dcv_cname_value.split(":")[1]);
    // The name is taken: bob cannot register alice's.
    expect((await iw(bob.key, "POST", "/custom_domain/", { hostname: `${ALICE_HOST.toUpperCase()}.` })).status).toBe(
      409,
    );
    expect((await iw(bob.key, "GET", "/custom_domain/")).body.hostname).toBe(BOB_HOST);

    // Nothing published yet: not connected.
    expect((await iw(bob.key, "POST", "/custom_domain/test_connection")).body.status).toBe("FAILED");
    // Bob's host publishes alice's token (for alice's name, and one made up for bob's name).
    published.set(BOB_HOST, a.body.dcv_cname_value);
    expect((await iw(bob.key, "POST", "/custom_domain/test_connection")).body.status).toBe("FAILED");
    published.set(BOB_HOST, `imgd-verify=${bob.id}:${a.body.dcv_cname_value.split(":")[1]}`);
    expect((await iw(bob.key, "POST", "/custom_domain/test_connection")).body.status).toBe("FAILED");
    // imgd itself never answers the proof path, on any host.
    for (const host of [BOB_HOST, "localhost", PUBLIC_HOST]) {
      const r = await onHost(host, "/.well-known/imgd-challenge");
      expect(r.status).toBe(404);
      expect(await r.text()).not.toContain("imgd-verify");
    }
    // The real token: connected; the check went through the pinned address, over HTTP.
    published.set(BOB_HOST, b.body.dcv_cname_value);
    const ok = await iw(bob.key, "POST", "/custom_domain/test_connection");
    expect(ok.body).toMatchObject({ hostname: BOB_HOST, status: "CONNECTED", certificate_status: "ACTIVE" });
    expect(seen).toContain(`${BOB_HOST} /.well-known/imgd-challenge`);
    // Alice's name still is not hers until she publishes her own token.
    expect((await iw(alice.key, "POST", "/custom_domain/test_connection")).body.status).toBe("FAILED");
  });

  test("a DNS TXT record proves a name the same way, for its tenant only", async () => {
    const carol = await tenant("carol");
    const c = await iw(carol.key, "POST", "/custom_domain/", { hostname: CAROL_HOST });
    expect(c.body.dcv_cname_record).toBe(`_imgd-challenge.${CAROL_HOST}`);
    const record = `_imgd-challenge.${CAROL_HOST}`;
    // Alice's token (hers for her own name) in carol's record: no.
    const aliceToken = (await iw(alice.key, "GET", "/custom_domain/")).body.dcv_cname_value;
    txt.set(record, aliceToken);
    expect((await iw(carol.key, "POST", "/custom_domain/test_connection")).body.status).toBe("FAILED");
    expect(questions).toContain(`TXT ${record}`);
    // The name has no address here, so the HTTP proof was not even tried.
    expect(seen.filter((l) => l.startsWith(CAROL_HOST))).toEqual([]);
    txt.set(record, c.body.dcv_cname_value);
    expect((await iw(carol.key, "POST", "/custom_domain/test_connection")).body.status).toBe("CONNECTED");
    // Pinned names are never asked of DNS; nothing but carol's names was.
    expect(questions.every((q) => q.endsWith(CAROL_HOST))).toBe(true);

    // A name that leads to an internal address: the check goes through the import fetcher,
    // which refuses it before connecting (a blind SSRF no more); the caller learns only FAILED.
    const inside = await iw(carol.key, "POST", "/custom_domain/", { hostname: INSIDE_HOST });
    published.set(INSIDE_HOST, inside.body.dcv_cname_value);
    const tried = await iw(carol.key, "POST", "/custom_domain/test_connection");
    expect(tried.body.status).toBe("FAILED");
    expect(JSON.stringify(tried.body)).not.toContain("127.0.0.1");
    expect(internalHits).toEqual([]);
    expect((await iw(carol.key, "DELETE", "/custom_domain/")).status).toBe(200);
  });

  test("a connected domain serves its owner's images and nothing else", async () => {
    const bobImage = await upload(bob.key, await makeImage(300, 200, "jpg"));
    const aliceImage = await upload(alice.key, await makeImage(120, 90, "jpg"));
    expect(bobImage.cdn_url).toBe(`http://${BOB_HOST}/${bobImage.id}.jpeg`);
    const own = await onHost(BOB_HOST, `/${bobImage.id}.jpeg?w=100&f=png`);
    expect(own.status).toBe(200);
    expect(own.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await decode(new Uint8Array(await own.arrayBuffer()))).toMatchObject({
      format: "png",
      width: 100,
      height: 67,
    });
    // Trailing dot and case name the same domain.
    expect((await onHost(`SHOP.bob.example.:80`, `/${bobImage.id}.jpeg?w=50&f=png`)).status).toBe(200);

    // Another tenant's image, by its id or through imgd's other shapes: not on bob's domain.
    const aliceCdn = new URL(aliceImage.cdn_url).pathname; // /imgwire/cdn/<alice>/<id>.jpeg
    const aliceUser = aliceCdn.split("/")[3];
    for (const path of [
      `/${aliceImage.id}.jpeg`,
      aliceCdn,
      `/i/${aliceUser}/${aliceImage.id}.jpeg`,
      `/_ipx/w_50/${aliceUser}/${aliceImage.id}.jpeg`,
      `/cdn-cgi/image/width=50/${aliceUser}/${aliceImage.id}.jpeg`,
    ]) {
      const r = await onHost(BOB_HOST, path);
      expect({ path, status: r.status }).toEqual({ path, status: 404 });
      expect(r.headers.get("content-type")).not.toStartWith("image/");
    }
    // imgd's own routes are not taken over (and not served there either).
    for (const [path, headers] of [
      ["/health", {}],
      ["/ready", {}],
      ["/api/v1/images", { authorization: `Bearer ${s.adminKey}` }],
      ["/imgwire/api/v1/images/", { authorization: `Bearer ${bob.key}` }],
      ["/auth/config", {}],
      ["/", {}],
      ["/library", {}],
      ["/login", {}],
      ["/docs", {}],
      ["/openapi.json", {}],
    ] as [string, Record<string, string>][]) {
      const r = await onHost(BOB_HOST, path, headers);
      const text = await r.text();
      expect({ path, status: r.status }).toEqual({ path, status: 404 });
      expect(r.headers.get("content-type")).toStartWith("application/json");
      expect(text).toContain("custom delivery domain");
    }
    // Writes are refused on the domain.
    const put = await fetch(`${s.url}/${bobImage.id}.jpeg`, { method: "DELETE", headers: { host: BOB_HOST } });
    expect(put.status).toBe(405);
    // imgd's own names still answer as imgd.
    const health = await onHost("localhost", "/health");
    expect(((await health.json()) as any).status).toBe("ok");
    const api = await s.api("/api/v1/images");
    expect(api.status).toBe(200);

    // Deleting the domain ends the routing at once.
    expect((await iw(bob.key, "DELETE", "/custom_domain/")).status).toBe(200);
    expect((await onHost(BOB_HOST, `/${bobImage.id}.jpeg`)).status).toBe(404);
  });
});
