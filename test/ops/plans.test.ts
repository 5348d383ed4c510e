import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import sharp from "sharp";
import { decode, makeImage } from "../helpers/images.ts";
import { form, startServer, type TestServer } from "../helpers/server.ts";
import { nativeError, tenant } from "../metering/helpers.ts";

// Plans as the references describe them: img-src keeps private images, signed URLs and
// presets for Pro; AssetsRepo needs one of its four tiers; img.pro accounts get img.pro's
// upload limits; IMGD_PLANS can grant features; rate-limit headers follow the plan.

let s: TestServer;
let png: Uint8Array;
const json = { "content-type": "application/json" };
beforeAll(async () => {
  s = await startServer({
    env: {
      IMGD_REGISTRATION: "open",
      IMGD_PLANS: JSON.stringify({
        team: { features: ["presets"], requests_per_minute: 60 },
        free: { api_requests_per_month: null },
      }),
    },
  });
  png = await makeImage(64, 48, "png");
});
afterAll(() => s.stop());

const upload = (key: string, fields: Record<string, string> = {}, bytes = png, name = "a.png") =>
  s.api("/api/v1/images", { method: "POST", key, body: form({ file: { bytes, filename: name }, ...fields }) });

describe("img-src: Pro features", () => {
  test("free: private images, signed URLs and presets are 403 with the reference's words; public uploads work", async () => {
    const t = await tenant(s, "free");
    const refused = await upload(t.key, { visibility: "private" });
    expect((await nativeError(refused, 403, "FORBIDDEN")).message).toBe("Pro plan required for private images");
    // Nothing was kept.
    expect((await (await s.api("/api/v1/images", { key: t.key })).json()).total).toBe(0);
    expect(((await (await s.api("/api/v1/usage", { key: t.key })).json()) as any).plan_features).toEqual([]);
    const up = await upload(t.key);
    expect(up.status).toBe(201);
    const img = (await up.json()) as any;
    const vis = await s.api(`/api/v1/images/${img.id}/visibility`, {
      method: "PUT",
      key: t.key,
      headers: json,
      body: JSON.stringify({ visibility: "private" }),
    });
    expect((await nativeError(vis, 403, "FORBIDDEN")).message).toBe("Pro plan required for private images");
    expect(
      (
        await s.api(`/api/v1/images/${img.id}/visibility`, {
          method: "PUT",
          key: t.key,
          headers: json,
          body: JSON.stringify({ visibility: "public" }),
        })
      ).status,
    ).toBe(200);
    const signed = await s.api(`/api/v1/images/${img.id}/signed-url`, {
      method: "POST",
      key: t.key,
      headers: json,
      body: "{}",
    });
    expect((await nativeError(signed, 403, "FORBIDDEN")).message).toBe("Pro plan required for signed URLs");
    const presets = await s.api("/api/v1/settings/presets", { key: t.key });
    expect((await nativeError(presets, 403, "FORBIDDEN")).message).toBe("Pro plan required for presets");
    const create = await s.api("/api/v1/settings/presets", {
      method: "POST",
      key: t.key,
      headers: json,
      body: JSON.stringify({ name: "thumb", params: { w: 10 } }),
    });
    await nativeError(create, 403, "FORBIDDEN");
    const viaUrl = await fetch(`${s.url}/i/${t.username}/a.webp?p:thumb`);
    expect((await nativeError(viaUrl, 403, "FORBIDDEN")).message).toBe("Pro plan required for presets");
    // The image itself is served.
    const plain = await fetch(`${s.url}/i/${t.username}/a.webp?w=32`);
    expect(await decode(new Uint8Array(await plain.arrayBuffer()))).toMatchObject({
      format: "webp",
      width: 32,
      height: 24,
    });
  });

  test("pro: private upload, signed URL and a preset in a URL all work", async () => {
    const t = await tenant(s, "pro");
    const up = await upload(t.key, { visibility: "private" }, png, "p.png");
    expect(up.status).toBe(201);
    const img = (await up.json()) as any;
    expect(img.visibility).toBe("private");
    expect((await fetch(`${s.url}/i/${t.username}/p.png`)).status).toBe(403);
    const signed = (await (
      await s.api(`/api/v1/images/${img.id}/signed-url`, { method: "POST", key: t.key, headers: json, body: "{}" })
    ).json()) as any;
    const viaSigned = await fetch(signed.signed_url);
    expect(viaSigned.status).toBe(200);
    expect(await decode(new Uint8Array(await viaSigned.arrayBuffer()))).toMatchObject({ width: 64, height: 48 });
    expect(
      (
        await s.api("/api/v1/settings/presets", {
          method: "POST",
          key: t.key,
          headers: json,
          body: JSON.stringify({ name: "thumb", params: { w: 16, h: 16, fit: "cover" } }),
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await s.api(`/api/v1/images/${img.id}/visibility`, {
          method: "PUT",
          key: t.key,
          headers: json,
          body: JSON.stringify({ visibility: "public" }),
        })
      ).status,
    ).toBe(200);
    const thumb = await fetch(`${s.url}/i/${t.username}/p.png?p:thumb`);
    expect(thumb.status).toBe(200);
    expect(await decode(new Uint8Array(await thumb.arrayBuffer()))).toMatchObject({
      format: "png",
      width: 16,
      height: 16,
    });
  });

  test("IMGD_PLANS grants features: a 'team' plan with presets only", async () => {
    const t = await tenant(s, "team");
    expect((await s.api("/api/v1/settings/presets", { key: t.key })).status).toBe(200);
    expect((await nativeError(await upload(t.key, { visibility: "private" }), 403, "FORBIDDEN")).message).toBe(
      "Pro plan required for private images",
    );
  });

  test("an unknown feature in IMGD_PLANS stops the server with the setting named", async () => {
    const p = Bun.spawnSync(
      [
        process.execPath,
        "src/main.ts",
        "serve",
        "--port",
        "0",
        "--plans",
        JSON.stringify({ x: { features: ["teleport"] } }),
      ],
      { cwd: `${import.meta.dir}/../..` },
    );
    expect(p.exitCode).toBe(2);
    expect(p.stderr.toString()).toContain("must be a list of: private_images, signed_urls, presets, assetsrepo");
  });
});

describe("AssetsRepo tiers", () => {
  test("a plan without the assetsrepo feature: 403 'No active subscription'; the four tiers serve and report their views", async () => {
    const free = await tenant(s, "pro");
    expect((await upload(free.key, {}, png, "hero.png")).status).toBe(201);
    const refused = await s.api("/api/images/hero.png", { key: free.key });
    expect((await nativeError(refused, 403, "FORBIDDEN")).message).toContain("No active subscription");
    for (const [plan, views] of [
      ["assetsrepo-50k", 50_000],
      ["assetsrepo-250k", 250_000],
      ["assetsrepo-1m", 1_000_000],
      ["assetsrepo-5m", 5_000_000],
    ] as const) {
      const t = await tenant(s, plan);
      expect((await upload(t.key, {}, png, "hero.png")).status).toBe(201);
      const res = await s.api("/api/images/hero.png?w=20", { key: t.key });
      expect(res.status).toBe(200);
      expect(await decode(new Uint8Array(await res.arrayBuffer()))).toMatchObject({ width: 20, height: 15 });
      const usage = (await (await s.api("/api/v1/usage", { key: t.key })).json()) as any;
      expect(usage.plan_name).toBe(`AssetsRepo Pro ${plan.slice(11).toUpperCase()}`);
      expect(usage.other_limits.max_views_per_month).toBe(views);
      expect(usage.plan_features).toEqual(["private_images", "signed_urls", "presets", "assetsrepo"]);
      expect(usage.current_period.views).toBe(1);
      // AssetsRepo's tiers are Pro subscriptions: img-src's Pro features come with them.
      expect((await s.api("/api/v1/settings/presets", { key: t.key })).status).toBe(200);
    }
  });
});

describe("img.pro accounts", () => {
  test("an account from POST /v1/keys is on 'imgpro': 70 MB uploads where img-src's free plan stops at 5 MB", async () => {
    const r = await s.api("/v1/keys", {
      method: "POST",
      key: null,
      headers: json,
      body: JSON.stringify({ email: "big@example.com" }),
    });
    expect(r.status).toBe(201);
    const { key } = (await r.json()) as any;
    // A 6 MB PNG: noise does not compress.
    const w = 1500;
    const raw = Buffer.alloc(w * w * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
    const big = new Uint8Array(
      await sharp(raw, { raw: { width: w, height: w, channels: 3 } })
        .png({ compressionLevel: 0 })
        .toBuffer(),
    );
    expect(big.length).toBeGreaterThan(5 * 1024 * 1024);
    const fd = new FormData();
    fd.append("file", new Blob([big], { type: "image/png" }), "big.png");
    const ok = await s.api("/v1/upload", { method: "POST", key, body: fd });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as any).filesize).toBe(big.length);
    const usage = (await (await s.api("/api/v1/usage", { key })).json()) as any;
    expect(usage.plan).toBe("imgpro");
    expect(usage.other_limits.max_upload_bytes).toBe(70 * 1024 * 1024);
    // The same file on img-src's free plan is too large.
    const t = await tenant(s, "free");
    // The server closes a connection whose large body it refused; Bun's fetch would reuse it.
    const refused = await s.api("/api/v1/images", {
      method: "POST",
      key: t.key,
      headers: { connection: "close" },
      body: form({ file: { bytes: big, filename: "big.png" } }),
    });
    expect(refused.status).toBe(413);
  }, 60_000);
});

describe("rate-limit headers", () => {
  test("a plan with a per-minute limit sends them on every API answer (success, 404, feature refusal); an unlimited plan sends none", async () => {
    const t = await tenant(s, "free");
    for (const r of [
      await s.api("/api/v1/images", { key: t.key }),
      await s.api("/api/v1/images/nope", { key: t.key }),
      await s.api("/api/v1/settings/presets", { key: t.key }),
    ]) {
      expect(r.headers.get("X-RateLimit-Limit")).toBe("100");
      expect(Number(r.headers.get("X-RateLimit-Remaining"))).toBeLessThan(100);
      expect(Number(r.headers.get("X-RateLimit-Reset"))).toBeGreaterThan(Date.now() / 1000);
    }
    for (const r of [await s.api("/api/v1/images"), await s.api("/api/v1/images/nope"), await s.api("/v1/usage")]) {
      expect(r.headers.get("X-RateLimit-Limit")).toBeNull();
      expect(r.headers.get("X-RateLimit-Remaining")).toBeNull();
    }
  });
});
