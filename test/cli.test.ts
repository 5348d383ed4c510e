import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, makeImage } from "./helpers/images.ts";
import { ROOT, type TestServer, startServer } from "./helpers/server.ts";

const imgd = (args: string[], env: Record<string, string> = {}) => {
  const p = Bun.spawnSync([process.execPath, join(ROOT, "src/main.ts"), ...args], { env: { ...process.env, ...env } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
};

describe("help and usage errors", () => {
  test("every command has complete help; exit codes 0 and 2", () => {
    const top = imgd(["--help"]);
    expect(top.code).toBe(0);
    for (const cmd of ["serve", "keys", "users", "upload", "ls", "rm", "usage"]) {
      expect(top.out).toContain(`  ${cmd} `);
      const h = imgd([cmd, "--help"]);
      expect({ cmd, code: h.code }).toEqual({ cmd, code: 0 });
      expect(h.out).toContain(`Usage: imgd ${cmd}`);
      expect(h.out).toContain("--help");
    }
    expect(imgd(["serve", "--help"]).out).toContain("IMGD_MAX_UPLOAD_BYTES");
    expect(imgd(["--version"]).out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const unknown = imgd(["upload", "x.jpg", "--colour", "red"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("--colour");
    expect(imgd(["frobnicate"]).code).toBe(2);
    const bad = imgd(["upload", "x.jpg", "--concurrency", "0"], { IMGD_API_KEY: "k" });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--concurrency");
    const badPort = imgd(["serve", "--port", "70000"]);
    expect(badPort.code).toBe(2);
    expect(badPort.err).toContain("IMGD_PORT");
    expect(badPort.err.trim().split("\n").length).toBe(1);
    const unwritable = imgd(["serve", "--data-dir", "/dev/null/data"]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.err).toContain("not writable");
  });
});

describe("life cycle", () => {
  test("prints one start-up line with URL, data dir and runtime; SIGTERM exits 0", async () => {
    const s = await startServer({ args: [] });
    const lines = s
      .output()
      .split("\n")
      .filter((l) => l.startsWith("imgd listening"));
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain(s.url);
    expect(lines[0]).toContain(`data: ${s.dataDir}`);
    expect(lines[0]).toMatch(/runtime: (bun|deno) \d/);
    // A request in flight when the signal arrives still gets its answer.
    const fd = new FormData();
    fd.append("file", new Blob([(await makeImage(300, 200, "jpg")) as BlobPart]), "late.jpg");
    const inflight = s.api("/api/v1/images", { method: "POST", body: fd });
    await Bun.sleep(5);
    const code = s.stop();
    expect((await inflight).status).toBe(201);
    expect(await code).toBe(0);
    expect(s.output()).toContain("imgd stopped");
  });
});

describe("client commands against a running server", () => {
  let s: TestServer;
  let dir: string;
  beforeAll(async () => {
    s = await startServer();
    dir = await mkdtemp(join(tmpdir(), "imgd-cli-"));
    await mkdir(join(dir, "album/sub"), { recursive: true });
    await writeFile(join(dir, "album/a.jpg"), await makeImage(120, 80, "jpg"));
    await writeFile(join(dir, "album/b.png"), await makeImage(60, 60, "png"));
    await writeFile(join(dir, "album/sub/c.webp"), await makeImage(40, 30, "webp"));
    await writeFile(join(dir, "album/broken.jpg"), "not an image at all, just text");
    await writeFile(join(dir, "album/notes.txt"), "ignored");
  });
  afterAll(async () => {
    await s.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("upload a folder: plain lines when not a terminal, URLs, failures listed, exit 1", async () => {
    const r = imgd(["upload", join(dir, "album"), "--recursive", "--path", "trip", "--server", s.url], {
      IMGD_API_KEY: s.adminKey,
    });
    expect(r.code).toBe(1);
    const urls = r.out.trim().split("\n");
    expect(urls.sort()).toEqual([
      `${s.url}/i/admin/trip/a.jpg`,
      `${s.url}/i/admin/trip/b.png`,
      `${s.url}/i/admin/trip/sub/c.webp`,
    ]);
    expect(r.err).toContain("3 uploaded, 1 failed");
    expect(r.err).toContain("broken.jpg");
    expect(r.err).toMatch(/uploaded .*a\.jpg → http/);
    const img = await fetch(`${s.url}/i/admin/trip/sub/c.png?w=20`);
    expect(await decode(new Uint8Array(await img.arrayBuffer()))).toMatchObject({
      format: "png",
      width: 20,
      height: 15,
    });
  });

  test("ls, usage and rm", async () => {
    const env = { IMGD_API_KEY: s.adminKey, IMGD_SERVER: s.url };
    const ls = imgd(["ls", "--path", "trip"], env);
    expect(ls.code).toBe(0);
    expect(ls.out).toContain("sub/\t(1 images)");
    expect(ls.out).toContain("trip/a.jpg");
    const json = JSON.parse(imgd(["ls", "--json"], env).out);
    expect(json.total).toBe(3);
    const usage = imgd(["usage"], env);
    expect(usage.code).toBe(0);
    expect(usage.out).toMatch(/uploads\s+3 \/ unlimited/);
    const id = json.images.find((i: any) => i.paths.includes("trip/b.png")).id;
    const rmId = imgd(["rm", id, "trip/a.jpg", "nope/missing.jpg"], env);
    expect(rmId.code).toBe(1);
    expect(rmId.out).toContain(`deleted ${id}`);
    expect(rmId.out).toContain("removed trip/a.jpg (image deleted)");
    expect(rmId.err).toContain("failed nope/missing.jpg");
    expect(JSON.parse(imgd(["ls", "--json"], env).out).total).toBe(1);
    const noKey = imgd(["ls", "--server", s.url]);
    expect(noKey.code).toBe(2);
    expect(noKey.err).toContain("IMGD_API_KEY");
    const wrongKey = imgd(["ls"], { ...env, IMGD_API_KEY: "imgsrc_wrong" });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.err).toContain("API key");
  });
});

describe("data-directory commands use the server's own services", () => {
  test("users delete removes the user's images, blobs and variant files, beside a running server; others keep theirs", async () => {
    const s = await startServer();
    try {
      const files = async (sub: string) => {
        const { readdir } = await import("node:fs/promises");
        return (await readdir(join(s.dataDir, sub), { recursive: true, withFileTypes: true }).catch(() => []))
          .filter((e) => e.isFile())
          .map((e) => e.name);
      };
      const cli = (...args: string[]) => imgd([...args, "--data-dir", s.dataDir]);
      expect(cli("users", "create", "dora").code).toBe(0);
      const key = cli("keys", "create", "--user", "dora").out.trim();
      expect(key).toMatch(/^imgsrc_/);
      const fd = new FormData();
      fd.append("file", new Blob([(await makeImage(90, 60, "jpg")) as BlobPart]), "pic.jpg");
      expect((await s.api("/api/v1/images", { method: "POST", body: fd, key })).status).toBe(201);
      // The admin's own image and variant must survive the deletion.
      const own = new FormData();
      own.append("file", new Blob([(await makeImage(50, 40, "png")) as BlobPart]), "keep.png");
      expect((await s.api("/api/v1/images", { method: "POST", body: own })).status).toBe(201);
      for (const url of ["/i/dora/pic.webp?w=40", "/i/dora/pic.png?w=30", "/i/admin/keep.webp?w=20"]) {
        const r = await fetch(s.url + url);
        expect({ url, status: r.status }).toEqual({ url, status: 200 });
        const d = await decode(new Uint8Array(await r.arrayBuffer()));
        expect(d.width).toBe(Number(url.split("w=")[1]));
      }
      expect((await files("variants")).length).toBe(3);
      expect((await files("blobs")).length).toBe(2);

      const del = cli("users", "delete", "dora");
      expect({ code: del.code, err: del.err }).toEqual({ code: 0, err: "" });
      expect(del.out).toMatch(/^deleted dora \(/);
      expect((await files("variants")).length).toBe(1);
      expect((await files("blobs")).length).toBe(1);
      expect((await s.api("/api/v1/images", { key })).status).toBe(401);
      // What is left is the admin's, still served.
      const kept = await fetch(`${s.url}/i/admin/keep.png?w=20`);
      expect(await decode(new Uint8Array(await kept.arrayBuffer()))).toMatchObject({
        format: "png",
        width: 20,
        height: 16,
      });
    } finally {
      await s.stop();
    }
  });
});
