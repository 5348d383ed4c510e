import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { CHROMIUM_OPTIONS, hasChromium } from "../helpers/browser.ts";
import { makeImage } from "../helpers/images.ts";
import { form, ROOT, startServer, type TestServer } from "../helpers/server.ts";

// The dashboard's webhooks page in Chromium: an endpoint added (its secret shown once and
// good for verifying), its deliveries listed with status and attempts, one the receiver kept
// refusing sent again with the button. axe-core checks the page (serious and critical fail).

let s: TestServer;
let browser: Browser | undefined;
let page: Page;
let axeSource = "";
let refuse = true;
const received: { id: string; body: string; headers: Record<string, string> }[] = [];
let receiver: ReturnType<typeof Bun.serve> | undefined;

beforeAll(async () => {
  if (!hasChromium()) return;
  receiver = Bun.serve({
    hostname: "127.0.0.2",
    port: 0,
    fetch: async (req) => {
      const body = await req.text();
      if (refuse) return new Response(null, { status: 503 });
      received.push({ id: req.headers.get("webhook-id") ?? "", body, headers: Object.fromEntries(req.headers) });
      return new Response(null, { status: 204 });
    },
  });
  s = await startServer({ env: { IMGD_WEBHOOK_ALLOW_NETWORKS: "127.0.0.2/32", IMGD_WEBHOOK_RETRY_DELAYS: "1" } });
  axeSource = await readFile(join(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");
  browser = await chromium.launch(CHROMIUM_OPTIONS);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  page = await context.newPage();
  page.on("dialog", (d) => void d.accept());
  page.on("pageerror", (err) => console.error(`page error: ${err.message}`));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
  await receiver?.stop(true);
});

async function axe(name: string) {
  await page.waitForLoadState("networkidle");
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const r = await (window as any).axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v: any) => v.impact === "serious" || v.impact === "critical")
      .map((v: any) => ({ id: v.id, help: v.help, nodes: v.nodes.slice(0, 3).map((n: any) => n.target.join(" ")) }));
  });
  expect({ page: name, violations }).toEqual({ page: name, violations: [] });
}

test.skipIf(!hasChromium())(
  "an endpoint added in the dashboard; a given-up delivery shown and sent again with Redeliver",
  async () => {
    const url = `http://127.0.0.2:${receiver!.port}/hook`;
    await page.goto(`${s.url}/login`);
    await page.getByRole("button", { name: "Sign in with an API key instead" }).click();
    await page.getByLabel("API key", { exact: true }).fill(s.adminKey);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(/\/library$/);
    await page.getByRole("link", { name: "Webhooks" }).click();
    await page.getByRole("heading", { level: 1, name: "Webhooks" }).waitFor();
    await page.getByText("No endpoints yet").waitFor();
    await axe("webhooks-empty");

    await page.getByLabel("Endpoint URL", { exact: true }).fill(url);
    // Only the creation event.
    for (const e of ["image.updated", "image.deleted", "image.visibility_changed", "variant.purged", "quota.warning"])
      await page.getByLabel(e, { exact: true }).uncheck();
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const secretField = page.getByLabel("Signing secret", { exact: true });
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    expect(secret).toMatch(/^whsec_/);
    const hooks = (await (await s.api("/api/v1/webhooks")).json()) as { webhooks: { url: string; events: string[] }[] };
    expect(hooks.webhooks).toEqual([expect.objectContaining({ url, events: ["image.created"] })]);
    await axe("webhooks-endpoint");

    // An upload whose delivery the receiver refuses: tried twice (IMGD_WEBHOOK_RETRY_DELAYS=1), then given up.
    const up = await s.api("/api/v1/images", {
      method: "POST",
      body: form({ file: { bytes: await makeImage(30, 20, "png"), filename: "d.png" }, path: "dash/d.png" }),
    });
    const { id } = (await up.json()) as { id: string };
    const row = page.locator("tr", { hasText: "image.created" });
    await page.getByRole("button", { name: `Deliveries to ${url}` }).click();
    for (const end = Date.now() + 30_000; ; ) {
      await page.getByRole("button", { name: "Refresh" }).click();
      if ((await row.count()) && (await row.innerText()).includes("given up")) break;
      if (Date.now() > end) throw new Error("the delivery was not given up");
      await Bun.sleep(200);
    }
    expect(await row.locator("td").nth(1).innerText()).toBe("dash/d.png");
    expect(await row.locator("td").nth(2).innerText()).toContain("HTTP 503");
    expect(await row.locator("td").nth(3).innerText()).toBe("2");
    await axe("webhooks-deliveries");

    refuse = false;
    await row.getByRole("button", { name: "Redeliver" }).click();
    for (const end = Date.now() + 30_000; ; ) {
      await page.getByRole("button", { name: "Refresh" }).click();
      if ((await page.locator("tr", { hasText: "delivered" }).count()) === 1) break;
      if (Date.now() > end) throw new Error("the redelivery was not shown as delivered");
      await Bun.sleep(200);
    }
    expect(received.length).toBe(1);
    const verified = new Webhook(secret).verify(received[0].body, received[0].headers) as any;
    expect(verified).toMatchObject({ type: "image.created", data: { id, path: "dash/d.png" } });
  },
  90_000,
);
