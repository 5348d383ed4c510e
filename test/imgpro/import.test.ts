import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { decode, makeImage } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { refusedImgpro, snapshot } from "../helpers/store.ts";

// POST /v1/import through the SSRF-safe fetcher. Upstreams listen on 127.0.0.2, the one range
// the server under test is told to allow; every other address here must be refused before any
// connection (a trap on 127.0.0.1 counts attempts). No request ever leaves loopback.

const LIMIT = 300_000;
let s: TestServer;
let upstream: ReturnType<typeof Bun.serve>;
let trap: ReturnType<typeof Bun.serve>;
let trap3: ReturnType<typeof Bun.serve>;
let trapHits = 0;
let png: Uint8Array;
let up = "";

beforeAll(async () => {
  png = await makeImage(120, 90, "png");
  trap = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (trapHits++, new Response(png as BodyInit)) });
  // Loopback but outside the allowed 127.0.0.2/32: the refusal must come from the range, not the host.
  trap3 = Bun.serve({ hostname: "127.0.0.3", port: 0, fetch: () => (trapHits++, new Response(png as BodyInit)) });
  upstream = Bun.serve({
    hostname: "127.0.0.2",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/cat.png") return new Response(png as BodyInit, { headers: { "content-type": "text/plain" } });
      if (path === "/redirect") return Response.redirect(`http://127.0.0.2:${upstream.port}/cat.png`, 302);
      if (path === "/to-loopback") return Response.redirect(`http://127.0.0.1:${trap.port}/x.png`, 302);
      if (path === "/to-other-loopback") return Response.redirect(`http://127.0.0.3:${trap3.port}/x.png`, 302);
      if (path === "/to-file") return Response.redirect("file:///etc/passwd", 302);
      if (path === "/loop") return Response.redirect(`http://127.0.0.2:${upstream.port}/loop`, 302);
      if (path === "/missing") return new Response("no", { status: 404 });
      if (path === "/html")
        return new Response("<html>not an image</html>".repeat(10), { headers: { "content-type": "image/png" } });
      if (path === "/big-declared") return new Response(new Uint8Array(LIMIT + 10_000).fill(1));
      if (path === "/big-streamed") {
        // No Content-Length: the limit must hold while streaming.
        let sent = 0;
        return new Response(
          new ReadableStream({
            pull(c) {
              if (sent > 5_000_000) return c.close();
              sent += 65536;
              c.enqueue(png.length > 0 ? new Uint8Array(65536).fill(2) : new Uint8Array());
            },
          }),
        );
      }
      if (path === "/slow") {
        // Sends the start of the image, then stalls forever.
        return new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(png.subarray(0, 100));
            },
          }),
          { headers: { "content-type": "image/png" } },
        );
      }
      if (path === "/stall") return new Promise<Response>(() => {});
      return new Response("?", { status: 400 });
    },
  });
  up = `http://127.0.0.2:${upstream.port}`;
  s = await startServer({
    env: {
      IMGD_IMPORT_ALLOW_NETWORKS: "127.0.0.2/32",
      IMGD_IMPORT_TIMEOUT_MS: "1500",
      IMGD_MAX_UPLOAD_BYTES: String(LIMIT),
    },
  });
});
afterAll(async () => {
  await s.stop();
  upstream.stop(true);
  trap.stop(true);
  trap3.stop(true);
});

const imp = (body: unknown, server = s) =>
  server.api("/v1/import", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("import", () => {
  test("JSON: the bytes are sniffed (not the header), source_url set, custom fields kept", async () => {
    const res = await imp({
      url: `${up}/cat.png`,
      namespace: "imports",
      description: "Imported from the test server",
      tags: ["a", "B"],
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({
      name: "cat.png",
      width: 120,
      height: 90,
      filesize: png.length,
      namespace: "imports",
      description: "Imported from the test server",
      source_url: `${up}/cat.png`,
      tags: ["a", "b"],
    });
    expect(body.src).toEndWith(".png");
    const bytes = new Uint8Array(await (await fetch(body.src)).arrayBuffer());
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(createHash("sha256").update(png).digest("hex"));
    expect(await decode(bytes)).toMatchObject({ format: "png", width: 120, height: 90 });
  });

  test("form body, a redirect followed, name override, external_id dedup without fetching again", async () => {
    const fd = new URLSearchParams({ url: `${up}/redirect`, name: "renamed.png", external_id: "imp-1" });
    const res = await s.api("/v1/import", { method: "POST", body: fd });
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    expect(a).toMatchObject({ name: "renamed.png", source_url: `${up}/redirect`, external_id: "imp-1" });
    const again = await imp({ url: `${up}/missing`, external_id: "imp-1" });
    expect(again.status).toBe(200);
    expect(again.headers.get("x-deduplicated")).toBe("true");
    expect(((await again.json()) as any).id).toBe(a.id);
  });

  const refusals: [string, string, number, string][] = [
    ["a loopback URL", "http://127.0.0.1:1/x.png", 400, "fetch_failed"],
    ["localhost", "http://localhost:1/x.png", 400, "fetch_failed"],
    ["[::1]", "http://[::1]:1/x.png", 400, "fetch_failed"],
    ["an IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]:1/x.png", 400, "fetch_failed"],
    ["a mapped form of the allowed address", "http://[::ffff:127.0.0.2]:1/x.png", 400, "fetch_failed"],
    ["a redirect to loopback", "/to-loopback", 400, "fetch_failed"],
    ["a redirect to a loopback address outside the allowed range", "/to-other-loopback", 400, "fetch_failed"],
    ["a redirect to file://", "/to-file", 400, "fetch_failed"],
    ["a redirect loop", "/loop", 400, "fetch_failed"],
    ["an upstream 404", "/missing", 400, "fetch_failed"],
    ["a non-image", "/html", 400, "fetch_failed"],
    ["a body over the limit (declared)", "/big-declared", 413, "fetch_failed"],
    ["a body over the limit (streamed)", "/big-streamed", 413, "fetch_failed"],
    ["a slow body past the timeout", "/slow", 400, "fetch_failed"],
    ["no answer before the timeout", "/stall", 400, "fetch_failed"],
    ["a file:// URL", "file:///etc/passwd", 400, "validation_error"],
    ["an ftp URL", "ftp://127.0.0.2/x.png", 400, "validation_error"],
    ["no URL at all", "", 400, "validation_error"],
  ];
  for (const [what, url, status, code] of refusals) {
    test(`refuses ${what}`, async () => {
      const before = snapshot(s.dataDir);
      const hits = trapHits;
      const started = Date.now();
      const res = await imp({ url: url.startsWith("/") ? up + url : url });
      // The answer's time, not the checks' below (on PostgreSQL they read the rows through psql).
      const answeredIn = Date.now() - started;
      const body = await refusedImgpro(res, status, code, s.dataDir, before);
      expect(answeredIn).toBeLessThan(5000);
      expect(trapHits).toBe(hits);
      if (code === "fetch_failed")
        expect(body.error.message).toMatch(/refused|HTTP 404|redirect|limit|longer than|image|import/);
    });
  }

  test("the refusal messages say why", async () => {
    const msg = async (url: string) => ((await (await imp({ url })).json()) as any).error.message as string;
    expect(await msg("http://127.0.0.1:1/x.png")).toContain("loopback");
    expect(await msg(`${up}/to-other-loopback`)).toContain("loopback");
    expect(await msg(`${up}/missing`)).toContain("HTTP 404");
    expect(await msg(`${up}/stall`)).toContain("1500 ms");
  });

  test("without IMGD_IMPORT_ALLOW_NETWORKS the same local server is refused", async () => {
    const strict = await startServer();
    try {
      const before = snapshot(strict.dataDir);
      const body = await refusedImgpro(
        await imp({ url: `${up}/cat.png` }, strict),
        400,
        "fetch_failed",
        strict.dataDir,
        before,
      );
      expect(body.error.message).toContain("loopback");
    } finally {
      await strict.stop();
    }
  });
});
