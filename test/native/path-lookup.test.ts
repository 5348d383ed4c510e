import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { decode, makeImage } from "../helpers/images.ts";
import { form, ROOT, startServer, type TestServer } from "../helpers/server.ts";

// What `imgd import` asks of the native API: the image a path holds (with its hash), and an
// upload from a URL (through the SSRF-safe fetcher) with tags and custom fields. The origin
// listens on 127.0.0.2, the one network the server is told to allow.

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
let s: TestServer;
let origin: ReturnType<typeof Bun.serve>;
let png: Uint8Array;
let jpg: Uint8Array;
let hits = 0;

beforeAll(async () => {
  png = await makeImage(64, 48, "png");
  jpg = await makeImage(48, 64, "jpg");
  origin = Bun.serve({
    hostname: "127.0.0.2",
    port: 0,
    fetch: (req) => {
      hits++;
      const path = new URL(req.url).pathname;
      if (path === "/a/cat.png") return new Response(png as BodyInit);
      return new Response("<html>no</html>", { headers: { "content-type": "image/png" } });
    },
  });
  s = await startServer({ env: { IMGD_IMPORT_ALLOW_NETWORKS: "127.0.0.2/32" } });
  const up = await s.api("/api/v1/images", {
    method: "POST",
    body: form({ file: { bytes: jpg, filename: "x.jpg" }, target_path: "old/2019/photo.jpg" }),
  });
  expect(up.status).toBe(201);
});

afterAll(async () => {
  await s?.stop();
  origin?.stop(true);
});

const at = (user: string, path: string) => `/api/v1/images/path/${user}/${path}`;

describe("GET /api/v1/images/path/{username}/{filepath}", () => {
  test("the image a path holds, its SHA-256; the same name with another extension finds it", async () => {
    const res = await s.api(at("admin", "old/2019/photo.jpg"));
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.metadata.hash).toBe(sha(jpg));
    expect(body.paths).toEqual(["old/2019/photo.jpg"]);
    expect(body.source_url).toBeNull();
    expect(((await (await s.api(at("admin", "old/2019/photo.webp"))).json()) as any).id).toBe(body.id);
    expect(((await (await s.api(at("admin", "old%2F2019%2Fphoto.jpg"))).json()) as any).id).toBe(body.id);
    expect((await s.api(at("admin", "old/2019/other.jpg"))).status).toBe(404);
    expect((await s.api(at("admin", "old%2F..%2Fetc.jpg"))).status).toBe(400);
  });

  test("no key: 401; another tenant's key: 403 for the owner's paths, and its own namespace is empty", async () => {
    expect((await s.api(at("admin", "old/2019/photo.jpg"), { key: null })).status).toBe(401);
    const run = (args: string[]) =>
      Bun.spawnSync([process.execPath, `${ROOT}/src/main.ts`, ...args, "--data-dir", s.dataDir], {
        env: { ...process.env, ...s.env },
      });
    expect(run(["users", "create", "mallory"]).exitCode).toBe(0);
    const mallory = run(["keys", "create", "--user", "mallory"]).stdout.toString().trim();
    const theirs = await s.api(at("admin", "old/2019/photo.jpg"), { key: mallory });
    expect(theirs.status).toBe(403);
    expect(await theirs.text()).not.toContain(sha(jpg));
    expect((await s.api(at("mallory", "old/2019/photo.jpg"), { key: mallory })).status).toBe(404);
  });
});

describe("POST /api/v1/images with url, tags and metadata", () => {
  test("the server fetches the URL and keeps the path, tags, custom fields and where it came from", async () => {
    const url = `http://127.0.0.2:${origin.port}/a/cat.png`;
    const res = await s.api("/api/v1/images", {
      method: "POST",
      body: form({ url, target_path: "moved/cat.png", tags: "Pets, cats", metadata: '{"alt":"A cat","n":2}' }),
    });
    expect(res.status).toBe(201);
    const up = (await res.json()) as any;
    expect(up.hash).toBe(sha(png));
    expect(up.paths).toEqual(["moved/cat.png"]);
    const meta = (await (await s.api(at("admin", "moved/cat.png"))).json()) as any;
    expect(meta.tags.sort()).toEqual(["cats", "pets"]);
    expect(meta.custom_metadata).toEqual({ alt: "A cat", n: 2 });
    expect(meta.source_url).toBe(url);
    const served = await fetch(`${s.url}/i/admin/moved/cat.png`);
    expect(served.status).toBe(200);
    expect(await decode(new Uint8Array(await served.arrayBuffer()))).toMatchObject({
      format: "png",
      width: 64,
      height: 48,
    });
  });

  test("refusals: not an image, a file and a url, bad metadata, a URL that is not http(s); nothing kept", async () => {
    const before = ((await (await s.api("/api/v1/images?limit=1")).json()) as any).total;
    const post = (fields: Parameters<typeof form>[0]) =>
      s.api("/api/v1/images", { method: "POST", body: form(fields) });
    const html = await post({ url: `http://127.0.0.2:${origin.port}/page.png`, target_path: "x/page.png" });
    expect(html.status).toBe(400);
    expect(JSON.stringify(await html.json())).toContain("did not return an image");
    const both = await post({
      file: { bytes: jpg, filename: "x.jpg" },
      url: `http://127.0.0.2:${origin.port}/a/cat.png`,
    });
    expect(both.status).toBe(400);
    const meta = await post({ file: { bytes: jpg, filename: "x.jpg" }, metadata: "[1,2]" });
    expect(meta.status).toBe(400);
    expect(JSON.stringify(await meta.json())).toContain("metadata");
    const seen = hits;
    const file = await post({ url: "file:///etc/passwd" });
    expect(file.status).toBe(400);
    expect(hits).toBe(seen);
    expect(((await (await s.api("/api/v1/images?limit=1")).json()) as any).total).toBe(before);
  });
});
