import { afterAll, beforeAll, expect, test } from "bun:test";
import { makeImage } from "../helpers/images.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { checkDocsInBrowser, checkDocsWithSession, hasChromium } from "./docs-browser.ts";

// /docs from the source tree (test/binary.test.ts runs the same check against the binary).

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(() => s.stop());

test.skipIf(!hasChromium())(
  "/docs lists the upload operation and uploads with a pasted key (Chromium)",
  async () => {
    await checkDocsInBrowser(s.url, s.adminKey, await makeImage(64, 48, "jpg"));
    const list = await (await s.api("/api/v1/images")).json();
    expect(list.images.map((i: { original_filename: string }) => i.original_filename)).toContain("docs.jpg");
  },
  120_000,
);

test.skipIf(!hasChromium())(
  "/docs acts with the dashboard session, CSRF token included (Chromium)",
  async () => {
    await checkDocsWithSession(s.url, s.adminKey);
    const preset = await (await s.api("/api/v1/settings/presets/from-docs")).json();
    expect(preset.params).toEqual({ w: 320 });
  },
  120_000,
);
