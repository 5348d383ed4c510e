import { expect } from "bun:test";
import { chromium } from "playwright-core";
import { CHROMIUM_OPTIONS, hasChromium } from "../helpers/browser.ts";

// /docs in Debian's Chromium: Swagger UI loads from the server alone (no other host is asked
// for anything), lists the upload operation, and "Try it out" with a pasted key uploads.

export { hasChromium };

const launch = () => chromium.launch(CHROMIUM_OPTIONS);

export async function checkDocsInBrowser(url: string, key: string, image: Uint8Array): Promise<void> {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    const problems: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(url) && !r.url().startsWith("data:") && !r.url().startsWith("blob:"))
        elsewhere.push(r.url());
    });
    page.on("pageerror", (e) => problems.push(String(e)));
    // Refusals the page expects: no session yet (401), and the browser's own favicon guess.
    page.on("response", (r) => {
      const path = new URL(r.url()).pathname;
      if (r.status() >= 400 && path !== "/auth/session" && path !== "/favicon.ico")
        problems.push(`${r.status()} ${path}`);
    });
    await page.goto(`${url}/docs`);
    const upload = page.locator("#operations-native-uploadImage");
    await upload.waitFor({ timeout: 30_000 });
    expect(await upload.innerText()).toContain("/api/v1/images");
    await page.getByText("Not signed in").waitFor();

    // Authorize with a pasted key, then try the upload for real.
    await page.locator("button.authorize").first().click();
    const dialog = page.locator(".dialog-ux");
    await dialog.locator('input[type="text"], input[type="password"]').first().fill(key);
    await dialog.locator("button.authorize").first().click();
    await dialog.locator("button.btn-done, button.close-modal").first().click();
    await upload.locator(".opblock-summary").first().click();
    await upload.locator("button.try-out__btn").click();
    await upload
      .locator('input[type="file"]')
      .setInputFiles({ name: "docs.jpg", mimeType: "image/jpeg", buffer: Buffer.from(image) });
    await upload.locator("button.execute").click();
    const status = upload.locator(".live-responses-table .response .response-col_status").first();
    await status.waitFor({ timeout: 30_000 });
    const answer = await upload.locator(".live-responses-table .microlight").first().innerText();
    expect((await status.innerText()).trim(), answer).toBe("201");
    expect(answer).toContain('"is_new"');
    expect(elsewhere).toEqual([]);
    expect(problems).toEqual([]);
  } finally {
    await browser.close();
  }
}

/** Signed in to the dashboard: "Try it out" acts with the session (its CSRF token included). */
export async function checkDocsWithSession(url: string, key: string): Promise<void> {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    // Sign in as the dashboard does (the browser keeps the cookie), then open the reference.
    await page.goto(`${url}/docs`);
    const status0 = await page.evaluate(
      async (k) =>
        (
          await fetch("/auth/login", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ api_key: k }),
          })
        ).status,
      key,
    );
    expect(status0).toBe(200);
    await page.reload();
    await page.getByText("Signed in as admin").waitFor({ timeout: 30_000 });
    const create = page.locator("#operations-native-createPreset");
    await create.waitFor();
    await create.locator(".opblock-summary").first().click();
    await create.locator("button.try-out__btn").click();
    await create.locator("textarea.body-param__text").fill(JSON.stringify({ name: "from-docs", params: { w: 320 } }));
    await create.locator("button.execute").click();
    const status = create.locator(".live-responses-table .response .response-col_status").first();
    await status.waitFor({ timeout: 30_000 });
    expect((await status.innerText()).trim()).toBe("201");
  } finally {
    await browser.close();
  }
}
