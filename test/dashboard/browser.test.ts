import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { decode, makeImage } from "../helpers/images.ts";
import { ROOT, startServer, type TestServer } from "../helpers/server.ts";
import { CHROMIUM, CHROMIUM_OPTIONS } from "../helpers/browser.ts";
import { setupLinkOf } from "./helpers.ts";

// The dashboard as a person uses it, in Debian's Chromium: first-start setup link → password →
// library; uploads by file picker, drag and drop and paste, with progress (and a failure with
// retry); tag filter and multi-select; a signed URL for a private image; the image
// page's URL builder (the 400 px WebP it writes is fetched and decoded here); a key created,
// copied, used and revoked; a preset edited with its preview; the usage chart against the API;
// sign-out. axe-core checks every page (serious and critical violations fail), and every page
// is photographed at 1280 and 375 px, light and dark, into the folder printed at the end.

const PASSWORD = "a long and secret password";
const SHOTS = process.env.IMGD_SCREENSHOTS ?? join(tmpdir(), `imgd-dashboard-shots-${process.pid}`);

let s: TestServer;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
let axeSource = "";
const visited = new Map<string, string>();

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  s = await startServer();
  axeSource = await readFile(join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
  await mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch(CHROMIUM_OPTIONS);
  // bypassCSP only so axe can be injected; the page's own CSP is checked in the HTTP tests.
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: s.url });
  page = await context.newPage();
  page.on("dialog", (d) => void d.accept());
  page.on("pageerror", (err) => console.error(`page error: ${err.message}`));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
});

/** Runs axe-core on the page as it is; serious or critical violations fail the test. */
async function axe(name: string) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await (window as any).axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n: any) => n.target.join(" ")),
    }));
  });
  const bad = result.filter((v: { impact: string }) => v.impact === "serious" || v.impact === "critical");
  expect({ page: name, violations: bad }).toEqual({ page: name, violations: [] });
}

/** Checks a page with axe in light and dark, and remembers it for the screenshots. */
async function check(name: string) {
  await page.waitForLoadState("networkidle");
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await axe(`${name} (${scheme})`);
  }
  await page.emulateMedia({ colorScheme: "light" });
  visited.set(name, new URL(page.url()).pathname + new URL(page.url()).search);
}

/** Polls until `get()` satisfies `ok` (10 s at most); returns the last value. */
async function until<T>(get: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const end = Date.now() + 10_000;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)}`);
    await Bun.sleep(100);
  }
}
const hasText = (locator: ReturnType<Page["locator"]>, text: string) => locator.filter({ hasText: text }).waitFor();

const heading = (text: string) => page.getByRole("heading", { level: 1, name: text });

test.skipIf(!existsSync(CHROMIUM))(
  "a person walks the dashboard",
  async () => {
    // Not signed in: a protected page sends you to sign-in.
    await page.goto(`${s.url}/keys`);
    await page.waitForURL(/\/login\?next=%2Fkeys/);
    await heading("Sign in").waitFor();
    await check("sign-in");

    // 1. The first-start setup link → choose the password → signed in, in the library.
    await page.goto(setupLinkOf(s));
    await heading("Choose your password").waitFor();
    await check("setup");
    await page.getByLabel("New password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Repeat the password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Set password and sign in" }).click();
    await page.waitForURL(/\/library$/);
    await heading("Library").waitFor();
    await page.getByText("No images yet").waitFor();
    // Theme: follow the system (the account starts on img-src's default, light), so the checks
    // and screenshots below see both schemes; an explicit choice overrides the system.
    await page.getByRole("link", { name: "Settings" }).click();
    await heading("Settings").waitFor();
    await page.getByLabel("Theme", { exact: true }).selectOption("dark");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved.").waitFor();
    expect(
      await page.evaluate(() => [
        document.documentElement.dataset.theme,
        getComputedStyle(document.body).backgroundColor,
      ]),
    ).toEqual(["dark", "rgb(17, 19, 23)"]);
    await page.getByLabel("Theme", { exact: true }).selectOption("system");
    await page.getByRole("button", { name: "Save" }).click();
    await until(
      () => page.evaluate(() => document.documentElement.dataset.theme ?? ""),
      (v) => v === "system",
      "the system theme",
    );
    await page.emulateMedia({ colorScheme: "dark" });
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgb(17, 19, 23)");
    await page.emulateMedia({ colorScheme: "light" });
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgb(246, 247, 249)");
    await page.getByRole("link", { name: "Library" }).click();
    await page.getByText("No images yet").waitFor();
    await check("library-empty");

    // 2. Two files with the file input (tagged), one by drag and drop; progress shows for each.
    await page.getByText("Folder, tags and visibility for new uploads").click();
    await page.getByLabel("Tags (comma-separated)", { exact: true }).fill("beach, summer");
    const big = await makeImage(1600, 1200, "jpg");
    const wide = await makeImage(1200, 600, "png");
    const dropped = await makeImage(900, 900, "jpg");
    await page.locator("#file-input").setInputFiles([
      { name: "sunset.jpg", mimeType: "image/jpeg", buffer: Buffer.from(big) },
      { name: "pier.png", mimeType: "image/png", buffer: Buffer.from(wide) },
    ]);
    await page.getByRole("progressbar", { name: "Progress of sunset.jpg" }).waitFor();
    await page.getByRole("progressbar", { name: "Progress of pier.png" }).waitFor();
    for (const name of ["sunset.jpg", "pier.png"])
      await page.locator(`li.upload.done[data-name="${name}"]`).waitFor({ timeout: 30_000 });
    expect(
      await page.locator('li.upload[data-name="sunset.jpg"] progress').evaluate((p: HTMLProgressElement) => p.value),
    ).toBe(1);
    // A file that is no image fails in plain words and offers a retry; the others go on.
    await page
      .locator("#file-input")
      .setInputFiles([{ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not an image at all") }]);
    const failed = page.locator('li.upload.failed[data-name="notes.txt"]');
    await failed.waitFor({ timeout: 30_000 });
    expect(await failed.innerText()).toContain("This is not an image imgd can read");
    await failed.getByRole("button", { name: "Retry" }).click();
    await failed.waitFor();
    // Keyboard: Tab reaches the file picker and its label shows the focus.
    await page.getByRole("link", { name: "Skip to content" }).focus();
    let focusShown = false;
    for (let i = 0; i < 30 && !focusShown; i++) {
      await page.keyboard.press("Tab");
      focusShown = await page.evaluate(
        () =>
          document.activeElement?.id === "file-input" &&
          getComputedStyle(document.querySelector('label[for="file-input"]')!).outlineStyle === "solid",
      );
    }
    expect(focusShown).toBe(true);
    await page.getByRole("button", { name: "Clear finished" }).click();
    await page.getByLabel("Tags (comma-separated)", { exact: true }).fill("");
    const dataTransfer = await page.evaluateHandle(
      ({ bytes }) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], "dropped.jpg", { type: "image/jpeg" }));
        return dt;
      },
      { bytes: [...dropped] },
    );
    const zone = page.getByTestId("dropzone");
    await zone.dispatchEvent("dragover", { dataTransfer });
    await zone.dispatchEvent("drop", { dataTransfer });
    await page.getByRole("progressbar", { name: "Progress of dropped.jpg" }).waitFor();
    await page.locator('li.upload.done[data-name="dropped.jpg"]').waitFor({ timeout: 30_000 });
    // Pasted from the clipboard (a screenshot tool's copy), anywhere on the page.
    const pasted = await makeImage(300, 200, "png");
    await page.evaluate(
      ({ bytes }) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], "pasted.png", { type: "image/png" }));
        document.body.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true }));
      },
      { bytes: [...pasted] },
    );
    await page.locator('li.upload.done[data-name="pasted.png"]').waitFor({ timeout: 30_000 });

    // 3. All four in the grid without a reload; the thumbnails are imgd's variants; tag filter.
    const tiles = page.locator("ul.grid > li.tile");
    await until(
      () => tiles.count(),
      (n) => n === 4,
      "four tiles",
    );
    const thumb = tiles.first().locator("img");
    expect(await thumb.getAttribute("srcset")).toMatch(
      /\/i\/admin\/.+\.webp\?w=240&h=240&fit=cover 240w, .+w=480&h=480&fit=cover 480w/,
    );
    expect(await thumb.getAttribute("loading")).toBe("lazy");
    await until(
      () => thumb.evaluate((i: HTMLImageElement) => (i.complete ? i.naturalWidth : 0)),
      (w) => w > 0,
      "the thumbnail to load",
    );
    await check("library");
    await page.getByLabel("Tag", { exact: true }).fill("beach");
    await page.getByRole("button", { name: "Filter", exact: true }).click();
    await page.waitForURL(/tag=beach/);
    await until(
      () => tiles.count(),
      (n) => n === 2,
      "two tiles",
    );
    expect((await tiles.allInnerTexts()).join(" ")).not.toContain("dropped.jpg");
    // Multi-select: both filtered images made private, then public again, in one step each.
    await page.getByRole("checkbox", { name: "Select sunset.jpg" }).check();
    await page.getByRole("checkbox", { name: "Select pier.png" }).check();
    await page.getByText("2 selected").waitFor();
    await page.getByRole("button", { name: "Make private" }).click();
    await until(
      () => page.locator(".tile .private").count(),
      (n) => n === 2,
      "two private tiles",
    );
    const listed = async () =>
      ((await (await s.api("/api/v1/images?tag=beach")).json()) as { images: { visibility: string }[] }).images.map(
        (i) => i.visibility,
      );
    expect(await listed()).toEqual(["private", "private"]);
    // A private image is shown through a signed URL the image page makes, with an expiry.
    await page.getByRole("link", { name: "pier.png" }).click();
    await heading("pier.png").waitFor();
    await page.getByLabel("Valid for", { exact: true }).selectOption("86400");
    await page.getByRole("button", { name: "Create signed URL" }).click();
    const signedField = page.getByRole("textbox", { name: /^Signed URL \(until / });
    await signedField.waitFor();
    const signedUrl = await signedField.inputValue();
    expect(signedUrl).toMatch(/[?&]token=.+&?/);
    const signedRes = await fetch(signedUrl);
    expect(signedRes.status).toBe(200);
    expect(await decode(new Uint8Array(await signedRes.arrayBuffer()))).toMatchObject({ width: 1200, height: 600 });
    expect((await fetch(signedUrl.replace(/token=[^&]+/, "token=forged"))).status).toBe(403);
    await check("image-private");
    await page.goBack();
    await page.getByRole("checkbox", { name: "Select sunset.jpg" }).check();
    await page.getByRole("button", { name: "Make public" }).click();
    await until(
      async () => (await listed()).sort().join(),
      (v) => v === "private,public",
      "sunset public again",
    );
    await page.getByText("1 selected").waitFor({ state: "detached" });
    await page.getByRole("link", { name: "sunset.jpg" }).click();
    await heading("sunset.jpg").waitFor();
    await page.getByText("1600 × 1200 px").waitFor();

    // 4. The builder: 400 px WebP; its URL, fetched here, decodes to a 400 px wide WebP.
    await page.getByLabel("Width (px)", { exact: true }).fill("400");
    await page.getByLabel("Format", { exact: true }).selectOption("webp");
    await hasText(page.getByTestId("preview-info"), "400 × 300 px");
    await hasText(page.getByTestId("preview-info"), "image/webp");
    const nativeUrl = await page.getByLabel("imgd URL", { exact: true }).inputValue();
    expect(nativeUrl).toBe(`${s.url}/i/admin/sunset.webp?w=400`);
    const variant = await fetch(nativeUrl);
    expect(variant.headers.get("content-type")).toBe("image/webp");
    const bytes = new Uint8Array(await variant.arrayBuffer());
    expect(await decode(bytes)).toMatchObject({ format: "webp", width: 400, height: 300 });
    await hasText(
      page.getByTestId("preview-info"),
      `${(bytes.length / 1024).toFixed(bytes.length < 10240 ? 1 : 0)} KB`,
    );
    // The other dialects' URLs serve the same picture.
    const imgwire = await fetch(await page.getByLabel("Imgwire CDN URL", { exact: true }).inputValue());
    expect(imgwire.status).toBe(200);
    expect(await decode(new Uint8Array(await imgwire.arrayBuffer()))).toMatchObject({
      format: "webp",
      width: 400,
      height: 300,
    });
    const imgpro = await fetch(await page.getByLabel("img.pro size URL (s, m or l)", { exact: true }).inputValue());
    expect(await decode(new Uint8Array(await imgpro.arrayBuffer()))).toMatchObject({
      format: "webp",
      width: 853,
      height: 640,
    });
    expect(await page.getByRole("textbox", { name: "<picture> with AVIF and WebP" }).inputValue()).toContain(
      'type="image/avif"',
    );
    await check("image");

    // 5. A key: created, copied (the clipboard holds the secret), used, revoked → refused.
    await page.getByRole("link", { name: "API keys" }).click();
    await heading("API keys").waitFor();
    await page.getByLabel("Name", { exact: true }).fill("from the browser");
    await page.getByRole("button", { name: "Create key" }).click();
    const secretField = page.getByLabel("Secret key", { exact: true });
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    expect(secret).toMatch(/^imgsrc_\w{49}$/);
    const copy = page.getByRole("button", { name: /^Cop(y|ied) Secret key$/ });
    await copy.click();
    await hasText(copy, "Copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    const withKey = () => fetch(`${s.url}/api/v1/images`, { headers: { authorization: `Bearer ${secret}` } });
    const used = await withKey();
    expect(used.status).toBe(200);
    expect(((await used.json()) as { total: number }).total).toBe(4);
    await check("keys");
    await page.reload();
    const row = page.locator("tr", { hasText: "from the browser" });
    expect(await row.locator("td").nth(4).innerText()).toBe("1"); // one request counted
    await page.getByRole("button", { name: "Revoke from the browser" }).click();
    await until(
      () => row.count(),
      (n) => n === 0,
      "the revoked key to leave the list",
    );
    expect((await withKey()).status).toBe(401);

    // 6. A preset: create at 200 px, edit to 120 px; the preview follows; the API has it.
    await page.getByRole("link", { name: "Presets" }).click();
    await heading("Presets").waitFor();
    await page.getByLabel("Name", { exact: true }).fill("thumb");
    await page.getByLabel("Width (px)", { exact: true }).fill("200");
    await page.getByLabel("Fit", { exact: true }).selectOption("cover");
    await page.getByLabel("Height (px)", { exact: true }).fill("200");
    await hasText(page.getByTestId("preview-info"), "200 × 200 px");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved thumb.").waitFor();
    await page.getByLabel("Width (px)", { exact: true }).fill("120");
    await page.getByLabel("Height (px)", { exact: true }).fill("90");
    await hasText(page.getByTestId("preview-info"), "120 × 90 px");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved thumb.").waitFor();
    const presets = (await (await s.api("/api/v1/settings/presets")).json()) as {
      presets: { name: string; params: Record<string, unknown> }[];
    };
    expect(presets.presets).toEqual([
      expect.objectContaining({ name: "thumb", params: { w: 120, h: 90, fit: "cover" } }),
    ]);
    const viaPreset = await fetch(`${s.url}/i/admin/sunset.webp?p:thumb`);
    expect(await decode(new Uint8Array(await viaPreset.arrayBuffer()))).toMatchObject({ width: 120, height: 90 });
    await check("presets");

    // 7. Usage: the chart draws the numbers the API reports.
    await page.getByRole("link", { name: "Usage" }).click();
    await heading("Usage").waitFor();
    const chart = page.locator('[data-chart="uploads"] rect');
    await until(
      () => chart.count(),
      (n) => n > 0,
      "the uploads chart",
    );
    const tz = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
    const api = (await (
      await s.api(`/api/v1/metrics/datasets?interval=DAILY&tz=${encodeURIComponent(tz)}`)
    ).json()) as { uploads: { uploads: number }[]; transformations: { transformations: number }[] };
    const drawn = await chart.evaluateAll((rects) => rects.map((r) => Number(r.getAttribute("data-value"))));
    expect(drawn).toEqual(api.uploads.map((p) => p.uploads));
    expect(drawn.reduce((a, b) => a + b, 0)).toBe(4);
    const heights = await chart.evaluateAll((rects) => rects.map((r) => Number(r.getAttribute("height"))));
    expect(Math.max(...heights)).toBeGreaterThan(100); // the day with the uploads is drawn tall
    const transforms = await page
      .locator('[data-chart="transformations"] rect')
      .evaluateAll((rects) => rects.map((r) => Number(r.getAttribute("data-value"))));
    expect(transforms).toEqual(api.transformations.map((p) => p.transformations));
    await page.getByRole("button", { name: "Hour" }).click();
    await until(
      () => page.getByRole("button", { name: "Hour" }).getAttribute("aria-pressed"),
      (v) => v === "true",
      "the hour interval",
    );
    await until(
      () => chart.count(),
      (n) => n >= 24,
      "an hourly chart",
    );
    await check("usage");

    // The remaining pages load and pass axe.
    for (const [link, title] of [
      ["Settings", "Settings"],
      ["Uploaders", "Uploaders"],
      ["Imgwire", "Imgwire"],
      ["Admin", "Admin"],
    ]) {
      await page.getByRole("link", { name: link, exact: true }).click();
      await heading(title).waitFor();
      await check(title.toLowerCase());
    }

    // Uploaders: the ShareX file and the shell script each carry a new key and work as downloaded.
    await page.getByRole("link", { name: "Uploaders", exact: true }).click();
    const [sxcu] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download .sxcu" }).click(),
    ]);
    const sharex = JSON.parse(await readFile((await sxcu.path())!, "utf8"));
    expect(sharex).toMatchObject({
      RequestMethod: "POST",
      RequestURL: `${s.url}/api/v1/images`,
      Body: "MultipartFormData",
      FileFormName: "file",
      URL: "{json:url}",
    });
    const shot = new FormData();
    shot.append(
      sharex.FileFormName,
      new Blob([(await makeImage(200, 100, "png")) as BlobPart], { type: "image/png" }),
      "sharex.png",
    );
    const viaSharex = await fetch(sharex.RequestURL, { method: "POST", headers: sharex.Headers, body: shot });
    expect(viaSharex.status).toBe(201);
    const sharexUrl = ((await viaSharex.json()) as { url: string }).url;
    expect(await decode(new Uint8Array(await (await fetch(sharexUrl)).arrayBuffer()))).toMatchObject({
      width: 200,
      height: 100,
    });
    const [script] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download script" }).click(),
    ]);
    const shotFile = join(SHOTS, "flameshot-test.png");
    await Bun.write(shotFile, await makeImage(120, 80, "png"));
    const run = Bun.spawnSync(["sh", (await script.path())!, shotFile], {
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    expect({ code: run.exitCode, err: run.stderr.toString() }).toEqual({ code: 0, err: "" });
    const link = run.stdout.toString().trim().split("\n").at(-1)!;
    expect(link).toBe(`${s.url}/i/admin/flameshot-test.png`);
    expect(await decode(new Uint8Array(await (await fetch(link)).arrayBuffer()))).toMatchObject({
      width: 120,
      height: 80,
    });
    await rm(shotFile);

    // Screenshots of every page at 1280 and 375 px, light and dark.
    for (const [name, path] of visited) {
      if (name === "setup" || name === "sign-in") continue;
      for (const width of [1280, 375]) {
        for (const scheme of ["light", "dark"] as const) {
          await page.setViewportSize({ width, height: width === 375 ? 812 : 900 });
          await page.emulateMedia({ colorScheme: scheme });
          await page.goto(s.url + path);
          await page
            .locator("#page-title")
            .waitFor({ timeout: 10_000 })
            .catch(async (err) => {
              await page.screenshot({ path: join(SHOTS, `FAILED-${name}-${width}-${scheme}.png`) });
              throw new Error(`${name} at ${width} px (${scheme}): ${err.message}`);
            });
          await page.waitForLoadState("networkidle");
          await page.screenshot({ path: join(SHOTS, `${name}-${width}-${scheme}.png`), fullPage: width === 1280 });
        }
      }
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.emulateMedia({ colorScheme: "light" });

    // 8. Sign out: a protected page sends you to sign-in again.
    await page.goto(`${s.url}/library`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/login/);
    await page.goto(`${s.url}/presets`);
    await page.waitForURL(/\/login\?next=%2Fpresets/);
    await heading("Sign in").waitFor();
    for (const width of [1280, 375]) {
      for (const scheme of ["light", "dark"] as const) {
        await page.setViewportSize({ width, height: 812 });
        await page.emulateMedia({ colorScheme: scheme });
        await page.screenshot({ path: join(SHOTS, `sign-in-${width}-${scheme}.png`) });
      }
    }
    // Signing in again with the password lands where you were going.
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByLabel("Username or email", { exact: true }).fill("admin");
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(/\/presets$/);
    console.log(`dashboard screenshots: ${SHOTS}`);
  },
  240_000,
);
