import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { startServer, type TestServer } from "../helpers/server.ts";
import { pixelsOf, secondTenant, signed, solid, upload } from "./access-helpers.ts";

// The access rule as a property: for random (caller, resource, URL shape), a private image's
// pixels come back only to a key of its owner or with a valid signature of that very URL, over
// every dialect and shape, a watermark by id and the placeholder included. And those two always
// do get them (where the shape can be signed at all).

const GREY: [number, number, number] = [128, 128, 128];
type Tenant = "admin" | "bob";
type Visibility = "public" | "private";
interface Resource {
  tenant: Tenant;
  visibility: Visibility;
}
const COLOUR: Record<Tenant, Record<Visibility, [number, number, number]>> = {
  admin: { public: GREY, private: [0, 200, 0] },
  bob: { public: GREY, private: [220, 0, 220] },
};
const PATH: Record<Visibility, string> = { public: "pub/x.png", private: "priv/y.png" };

/** A URL shape: the unsigned URL, and what to sign for it (null: the shape has no signatures). */
interface Shape {
  name: string;
  url: (tenant: Tenant, r: Resource, base: Tenant) => string;
  sign: ((tenant: Tenant, r: Resource, base: Tenant) => { image: string; body: Record<string, unknown> }) | null;
  /** Whose URL it is: the resource's tenant, or the base image's (a watermark). */
  tenant: (r: Resource, base: Tenant) => Tenant;
  /** Whether its answer is the image itself (a placeholder is a blur of it). */
  exact: boolean;
}

const ids: Record<string, string> = {};
const idOf = (t: Tenant, v: Visibility | "base") => ids[`${t}/${v}`]!;
const own = (r: Resource) => r.tenant;

const native = (name: string, path: (p: string) => string, options: Record<string, string>, exact = true): Shape => ({
  name,
  tenant: own,
  exact,
  url: (t, r) => {
    const q = new URLSearchParams(options).toString();
    return `/i/${t}/${path(PATH[r.visibility])}${q ? `?${q}` : ""}`;
  },
  sign: (t, r) => ({ image: idOf(t, r.visibility), body: { path: path(PATH[r.visibility]), options } }),
});
const imgwire = (name: string, suffix: string, options: Record<string, string>): Shape => ({
  name,
  tenant: own,
  exact: true,
  url: (t, r) => `/imgwire/cdn/${t}/${PATH[r.visibility]}${suffix}?${new URLSearchParams(options)}`,
  sign: (t, r) => ({
    image: idOf(t, r.visibility),
    body: { dialect: "imgwire", path: PATH[r.visibility] + suffix, options },
  }),
});
const unsignable = (name: string, url: (t: Tenant, path: string) => string): Shape => ({
  name,
  tenant: own,
  exact: true,
  url: (t, r) => url(t, PATH[r.visibility]),
  sign: null,
});
const markOptions = (r: Resource) => ({
  watermark: `${idOf(r.tenant, r.visibility)}:ce`,
  watermark_size: "64:48",
  f: "png",
});

const SHAPES: Shape[] = [
  native("native original", (p) => p, {}),
  native("native options", (p) => p, { w: "32" }),
  native("native conversion", (p) => p.replace(".png", ".webp"), {}),
  native("imgix on /i/", (p) => p, { w: "32", fm: "png" }),
  native("placeholder", (p) => p, { placeholder: "" }, false),
  imgwire("imgwire original", "", { f: "png" }),
  imgwire("imgwire options", "", { w: "32", f: "png" }),
  imgwire("imgwire preset", "@small", { f: "png" }),
  unsignable("ipx", (t, p) => `/_ipx/w_32,f_png/${t}/${p}`),
  unsignable("cloudflare", (t, p) => `/cdn-cgi/image/width=32,format=png/${t}/${p}`),
  unsignable("next.js", (t, p) => `/_next/image?url=${encodeURIComponent(`/${t}/${p}`)}&w=32`),
  {
    name: "watermark by id",
    tenant: (_r, base) => base,
    exact: true,
    url: (t, r) => `/imgwire/cdn/${t}/base.png?${new URLSearchParams(markOptions(r))}`,
    sign: (t, r) => ({
      image: idOf(t, "base"),
      body: { dialect: "imgwire", path: "base.png", options: markOptions(r) },
    }),
  },
];

type Caller =
  | "anonymous"
  | "other tenant's key"
  | "owner's key"
  | "owner's public client key"
  | "valid signature"
  | "tampered signature"
  | "expired signature";
const CALLERS: Caller[] = [
  "anonymous",
  "other tenant's key",
  "owner's key",
  "owner's public client key",
  "valid signature",
  "tampered signature",
  "expired signature",
];

let s: TestServer;
const keys = {} as Record<Tenant, string>;
/** Each tenant's Imgwire CLIENT key: published in browsers, so never the owner. */
const clientKeys = {} as Record<Tenant, string>;
/** Signatures made an hour before the clock the server now runs on: expired. */
const expired = new Map<string, string>();
const caseKey = (shape: Shape, r: Resource, base: Tenant) => `${shape.name}|${r.tenant}|${r.visibility}|${base}`;

beforeAll(async () => {
  const first = await startServer();
  keys.admin = first.adminKey;
  keys.bob = await secondTenant(first, "bob");
  for (const t of ["admin", "bob"] as const) {
    const key = t === "admin" ? undefined : keys.bob;
    const made = await first.api("/imgwire/api/v1/api_keys/", {
      key: keys[t],
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "browser", key_type: "CLIENT" }),
    });
    expect(made.status).toBe(200);
    clientKeys[t] = ((await made.json()) as { server_key: string }).server_key;
    ids[`${t}/public`] = await upload(first, key, await solid(64, 48, COLOUR[t].public), PATH.public, "public");
    ids[`${t}/private`] = await upload(first, key, await solid(64, 48, COLOUR[t].private), PATH.private, "private");
    ids[`${t}/base`] = await upload(first, key, await solid(64, 48, [40, 40, 200]), "base.png", "public");
  }
  // Signed now for 60 s; the server comes back two minutes later, when every one has expired.
  for (const shape of SHAPES) {
    if (!shape.sign) continue;
    for (const tenant of ["admin", "bob"] as const)
      for (const visibility of ["public", "private"] as const)
        for (const base of ["admin", "bob"] as const) {
          const r = { tenant, visibility };
          if (shape.name !== "watermark by id" && base !== "admin") continue;
          const t = shape.tenant(r, base);
          const { image, body } = shape.sign(t, r, base);
          expired.set(caseKey(shape, r, base), await signed(first, keys[t], image, { ...body, expires_in: 60 }));
        }
  }
  await first.stop({ keepData: true });
  s = await startServer({ dataDir: first.dataDir, env: { IMGD_TEST_CLOCK_OFFSET_MS: "120000" } });
});
afterAll(async () => {
  await s?.stop();
});

const tamper = (url: string) => {
  const u = new URL(url, "http://x");
  const token = u.searchParams.get("token")!;
  u.searchParams.set("token", (token[0] === "A" ? "B" : "A") + token.slice(1));
  return u.pathname + u.search;
};

test("a private image's pixels never come back without a key of its owner or a valid signature", async () => {
  const resource = fc.record({
    tenant: fc.constantFrom<Tenant>("admin", "bob"),
    visibility: fc.constantFrom<Visibility>("public", "private"),
  });
  // The expired signatures are expired ones, not broken ones: the server says so.
  const old = await fetch(s.url + expired.get(caseKey(SHAPES[1]!, { tenant: "bob", visibility: "private" }, "admin"))!);
  expect(old.status).toBe(403);
  expect(((await old.json()) as { error: { message: string } }).error.message).toContain("expired");
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...SHAPES),
      fc.constantFrom(...CALLERS),
      resource,
      fc.constantFrom<Tenant>("admin", "bob"),
      async (shape, caller, r, rawBase) => {
        const base = shape.name === "watermark by id" ? rawBase : "admin";
        const t = shape.tenant(r, base);
        let url = shape.url(t, r, base);
        const headers: Record<string, string> = { accept: "image/png,image/*" };
        if (caller === "owner's key") headers.authorization = `Bearer ${keys[t]}`;
        if (caller === "owner's public client key") headers.authorization = `Bearer ${clientKeys[t]}`;
        if (caller === "other tenant's key") headers.authorization = `Bearer ${keys[t === "admin" ? "bob" : "admin"]}`;
        if (shape.sign && caller === "valid signature") {
          const { image, body } = shape.sign(t, r, base);
          url = await signed(s, keys[t], image, body);
        }
        if (shape.sign && caller === "tampered signature") {
          const { image, body } = shape.sign(t, r, base);
          url = tamper(await signed(s, keys[t], image, body));
        }
        if (shape.sign && caller === "expired signature") url = expired.get(caseKey(shape, r, base))!;
        const res = await fetch(s.url + url, { headers });
        const bytes = new Uint8Array(await res.arrayBuffer());
        const label = `${shape.name} · ${caller} · ${r.visibility} image of ${r.tenant} (URL of ${t}): ${url}`;

        // The one rule: whose pixels may this answer carry?
        const sameTenant = t === r.tenant;
        const entitled =
          r.visibility === "public"
            ? sameTenant
            : sameTenant && (caller === "owner's key" || (caller === "valid signature" && shape.sign !== null));
        if (!entitled) {
          expect([label, res.status === 200]).toEqual([label, false]);
          expect([label, res.status === 403 || res.status === 404]).toEqual([label, true]);
          return;
        }
        expect([label, res.status]).toEqual([label, 200]);
        if (shape.exact) {
          const px = await pixelsOf(bytes);
          expect([label, px.near(COLOUR[r.tenant][r.visibility]) > 0.5]).toEqual([label, true]);
        }
        if (r.visibility === "private")
          expect([label, res.headers.get("cache-control")?.startsWith("private")]).toEqual([label, true]);
      },
    ),
    { numRuns: 150 },
  );
});
