import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { makeImage } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { CHROMIUM, CHROMIUM_OPTIONS } from "../helpers/browser.ts";
import { MOUNT } from "./helpers.ts";

// The browser flow in headless Chromium: a page on another local origin uploads a file with a
// client key and an upload token, then shows it through cdn_url?w=200&format=auto.

let s: TestServer;
let page: ReturnType<typeof Bun.serve>;
let browser: Browser | undefined;
let profile: string;
let jpg: Uint8Array;

beforeAll(async () => {
  jpg = await makeImage(640, 480, "jpg");
  s = await startServer();
  page = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/photo.jpg") return new Response(jpg as BodyInit, { headers: { "content-type": "image/jpeg" } });
      return new Response("<!doctype html><title>upload</title><body></body>", {
        headers: { "content-type": "text/html" },
      });
    },
  });
  profile = await mkdtemp(join(tmpdir(), "imgd-chromium-"));
});
afterAll(async () => {
  await browser?.close();
  page.stop(true);
  await s.stop();
  await rm(profile, { recursive: true, force: true });
});

test.skipIf(!existsSync(CHROMIUM))(
  "a page on another origin uploads with a client key and shows the variant",
  async () => {
    const origin = `http://127.0.0.1:${page.port}`;
    const api = (path: string, json?: unknown) =>
      s
        .api(MOUNT + path, {
          method: json === undefined ? "GET" : "POST",
          headers: { "content-type": "application/json" },
          body: json === undefined ? undefined : JSON.stringify(json),
        })
        .then((r) => r.json() as Promise<any>);
    await api("/api/v1/cors_origins/", { pattern: origin });
    const key = await api("/api/v1/api_keys/", {
      name: "web",
      key_type: "CLIENT",
      allow_unsigned_upload: false,
      allowed_mime_types: ["image/jpeg", "image/png"],
    });
    const token = await api("/api/v1/images/token", {});

    const context = await chromium.launchPersistentContext(profile, CHROMIUM_OPTIONS);
    browser = context.browser() ?? undefined;
    const tab = context.pages()[0] ?? (await context.newPage());
    await tab.goto(`${origin}/`);
    const result = await tab.evaluate(
      async ({ base, clientKey, uploadToken }) => {
        const bytes = await (await fetch("/photo.jpg")).blob();
        const created = await fetch(
          `${base}/api/v1/images/standard_upload?upload_token=${encodeURIComponent(uploadToken)}`,
          {
            method: "POST",
            headers: { authorization: `Bearer ${clientKey}`, "content-type": "application/json" },
            body: JSON.stringify({ file_name: "photo.jpg", mime_type: "image/jpeg", content_length: bytes.size }),
          },
        ).then((r) => r.json());
        const put = await fetch(created.upload_url, {
          method: "PUT",
          body: bytes,
          headers: { "content-type": "image/jpeg" },
        });
        const img = document.createElement("img");
        document.body.append(img);
        await new Promise((ok, fail) => {
          img.onload = ok;
          img.onerror = fail;
          img.src = `${created.image.cdn_url}?w=200&format=auto`;
        });
        return {
          id: created.image.id as string,
          put: put.status,
          width: img.naturalWidth,
          height: img.naturalHeight,
          src: img.src,
        };
      },
      { base: `${s.url}${MOUNT}`, clientKey: key.client_key, uploadToken: token.token },
    );
    await context.close();
    browser = undefined;
    expect(result.put).toBe(200);
    expect([result.width, result.height]).toEqual([200, 150]);
    const stored = await api(`/api/v1/images/${result.id}`);
    expect(stored).toMatchObject({
      status: "READY",
      width: 640,
      height: 480,
      size_bytes: jpg.length,
      upload_token_id: token.id,
    });
    // Chromium asks for AVIF/WebP: the variant it got is what the same Accept fetches, in the
    // tenant's first delivery format the browser names (by default webp, then avif).
    const variant = await fetch(result.src, {
      headers: { accept: "image/avif,image/webp,image/apng,image/*,*/*;q=0.8" },
    });
    expect(variant.headers.get("content-type")).toBe("image/webp");
    expect(variant.headers.get("x-cache")).toBe("HIT");
  },
  30_000,
);
