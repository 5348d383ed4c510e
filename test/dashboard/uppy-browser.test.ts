import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import sharp from "sharp";
import { CHROMIUM, CHROMIUM_OPTIONS } from "../helpers/browser.ts";
import { bigPng } from "../helpers/images.ts";
import { cuttingProxy } from "../helpers/cutting-proxy.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { asBrowser, setUp, setupLinkOf } from "./helpers.ts";

// The dashboard sends a large file through tus (Uppy, headless) rather than one multipart
// request: a 30 MB image chosen in Chromium's file picker goes up in 5 MB parts through a
// proxy that cuts the connection twice mid-part, and Uppy resumes it. The image lands in the
// library byte for byte, with the folder and tags from the upload options.

const MB = 1024 * 1024;
const PASSWORD = "a long and secret password";
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

let s: TestServer;
let browser: Browser | undefined;
let dir = "";

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  s = await startServer();
  dir = await mkdtemp(join(tmpdir(), "imgd-uppy-"));
  browser = await chromium.launch(CHROMIUM_OPTIONS);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test.skipIf(!existsSync(CHROMIUM))(
  "a 30 MB image chosen in the library goes up by tus and survives two cut connections",
  async () => {
    const bytes = await bigPng(30 * MB);
    expect(bytes.length).toBeGreaterThan(30 * MB);
    const file = join(dir, "big.png");
    await writeFile(file, bytes);
    // 2.5 MB into the second part, then 1.5 MB into the third (after the resent second):
    // page loads send almost nothing upstream, the parts are what counts.
    const proxy = await cuttingProxy(s.url, [7.5 * MB, 18.5 * MB]);
    const context = await browser!.newContext();
    const page = await context.newPage();
    page.on("pageerror", (err) => console.error(`page error: ${err.message}`));
    try {
      // Signed in through the proxy, so every request of the page goes through it.
      const setup = new URL(setupLinkOf(s));
      await page.goto(`${proxy.url}${setup.pathname}${setup.search}${setup.hash}`);
      await page.getByLabel("New password", { exact: true }).fill(PASSWORD);
      await page.getByLabel("Repeat the password", { exact: true }).fill(PASSWORD);
      await page.getByRole("button", { name: "Set password and sign in" }).click();
      await page.waitForURL(/\/library$/);
      await page.getByText("Folder, tags and visibility for new uploads").click();
      await page.locator("#up-folder").fill("tus");
      await page.getByLabel("Tags (comma-separated)", { exact: true }).fill("big, resumable");

      await page.locator("#file-input").setInputFiles(file);
      await page.getByRole("progressbar", { name: "Progress of big.png" }).waitFor();
      const done = page.locator('li.upload.done[data-name="big.png"]');
      const failed = page.locator('li.upload.failed[data-name="big.png"]');
      await done.or(failed).waitFor({ timeout: 120_000 });
      if (await failed.count()) throw new Error(`the upload failed: ${await failed.innerText()}`);
      expect(await done.locator("progress").evaluate((p: HTMLProgressElement) => p.value)).toBe(1);
    } finally {
      await context.close();
      await proxy.close();
    }
    // Both cuts happened mid-part, and each cut part was sent again: every part, two resends.
    expect(proxy.stats.cuts.length).toBe(2);
    expect(proxy.stats.patches).toBeGreaterThanOrEqual(Math.ceil(bytes.length / (5 * MB)) + 2);

    // In the library, byte for byte, with the upload options' folder and tags.
    const list = (await (await s.api("/api/v1/images?path=tus")).json()) as any;
    expect(list.images.length).toBe(1);
    const meta = (await (await s.api(`/api/v1/images/${list.images[0].id}`)).json()) as any;
    expect(meta.metadata).toMatchObject({
      hash: sha256(bytes),
      mime_type: "image/png",
      size: bytes.length,
      original_filename: "big.png",
    });
    expect(meta.paths).toEqual(["tus/big.png"]);
    expect(meta.tags).toEqual(["big", "resumable"]);
    const original = new Uint8Array(await (await fetch(`${s.url}/i/admin/tus/big.png`)).arrayBuffer());
    expect(sha256(original)).toBe(sha256(bytes));
    const info = await sharp(original).metadata();
    expect({ format: info.format, width: info.width }).toEqual({
      format: "png",
      width: Math.ceil(Math.sqrt((30 * MB) / 3)),
    });
  },
  180_000,
);

test("the tus routes take the dashboard's session under the CSRF rule of every cookie write", async () => {
  const t = await startServer();
  try {
    const who = await setUp(t, PASSWORD);
    expect(who.res.status).toBe(200);
    const create = (init: { csrf?: string | null; origin?: string | null } = {}) =>
      asBrowser(t, who, "/api/v1/uploads/tus", {
        method: "POST",
        headers: { "Tus-Resumable": "1.0.0", "Upload-Length": "1000" },
        ...init,
      });
    // Another site's page, or our own without the token: refused, no upload made.
    for (const init of [{ csrf: null }, { csrf: "not-the-token" }, { origin: "http://127.0.0.2:1" }]) {
      const res = await create(init);
      expect({ init, status: res.status }).toEqual({ init, status: 403 });
      expect(res.headers.get("location")).toBeNull();
    }
    const made = await create();
    expect(made.status).toBe(201);
    const location = made.headers.get("location")!;
    expect(location).toMatch(/^\/api\/v1\/uploads\/tus\/\S+$/);
    // Reading the offset is safe (no token needed); the upload is the session user's.
    const head = await asBrowser(t, who, location, {
      method: "HEAD",
      csrf: null,
      headers: { "Tus-Resumable": "1.0.0" },
    });
    expect({ status: head.status, offset: head.headers.get("upload-offset") }).toEqual({ status: 200, offset: "0" });
    const gone = await asBrowser(t, who, location, {
      method: "DELETE",
      csrf: null,
      headers: { "Tus-Resumable": "1.0.0" },
    });
    expect(gone.status).toBe(403);
  } finally {
    await t.stop();
  }
}, 60_000);
