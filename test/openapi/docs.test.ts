import { afterAll, beforeAll, expect, test } from "bun:test";
import { makeImage } from "../helpers/images.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { checkDocsInBrowser, hasChromium } from "./docs-browser.ts";

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
