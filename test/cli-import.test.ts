import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseS3Url, S3Client } from "../src/store/s3/index.ts";
import { decode, makeImage } from "./helpers/images.ts";
import { type S3TestServer, startS3, TEST_BUCKET } from "./helpers/s3.ts";
import { form, ROOT, removeDataDir, startServer, type TestServer } from "./helpers/server.ts";

// `imgd import` as a person runs it: a child process against a running server, killed half-way
// and run again, compared with a clean import into a second server.

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const ALLOW = { IMGD_IMPORT_ALLOW_NETWORKS: "127.0.0.2/32" };

/** `imgd …` as its own process, its output piped. */
const spawn = (args: string[], env: Record<string, string> = {}) =>
  Bun.spawn([process.execPath, join(ROOT, "src/main.ts"), ...args], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });

async function imgd(args: string[], env: Record<string, string> = {}) {
  const p = spawn(args, env);
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, out, err };
}

const withKey = (s: TestServer) => ["--server", s.url, "--key", s.adminKey];

/** Every path of the admin's library and the SHA-256 of the bytes it holds; fails on an image listed twice. */
async function library(s: TestServer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const ids = new Set<string>();
  for (let offset = 0; ; offset += 100) {
    const page = (await (await s.api(`/api/v1/images?limit=100&offset=${offset}&sort=name`)).json()) as any;
    for (const img of page.images) {
      expect(ids.has(img.id)).toBe(false);
      ids.add(img.id);
      const meta = (await (await s.api(`/api/v1/images/${img.id}`)).json()) as any;
      for (const p of img.paths) {
        expect(out[p]).toBeUndefined();
        out[p] = meta.metadata.hash;
      }
    }
    if (!page.has_more) break;
  }
  return out;
}

const count = async (s: TestServer) => ((await (await s.api("/api/v1/images?limit=1")).json()) as any).total as number;

let dir: string;
let folder: string;
/** path → sha256 of every image written into the folder. */
const written: Record<string, string> = {};
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "imgd-import-"));
  folder = join(dir, "library");
  const put = async (rel: string, bytes: Uint8Array) => {
    await mkdir(dirname(join(folder, rel)), { recursive: true });
    await writeFile(join(folder, rel), bytes);
  };
  // 200 small images, each of its own size (so its own bytes), in nested folders.
  for (let i = 0; i < 200; i++) {
    const where = ["", "2019/", "2019/summer/", "blog/posts/"][i % 4];
    const ext = i % 3 === 0 ? "png" : "jpg";
    const bytes = await makeImage(8 + (i % 20), 8 + Math.floor(i / 20), ext);
    const rel = `${where}img-${String(i).padStart(3, "0")}.${ext}`;
    await put(rel, bytes);
    written[rel] = sha(bytes);
  }
  await put("notes/readme.txt", new TextEncoder().encode("not an image"));
  await put(".DS_Store", new Uint8Array([0, 0, 0, 1]));
  [a, b] = await Promise.all([startServer({ env: ALLOW }), startServer({ env: ALLOW })]);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

describe("imgd import from a folder", () => {
  test("help names every option; usage errors exit 2", async () => {
    const help = await imgd(["import", "--help"]);
    expect(help.code).toBe(0);
    for (const flag of ["--server", "--key", "--data-dir", "--user", "--prefix", "--dry-run", "--replace", "--tags"])
      expect(help.out).toContain(flag);
    expect(help.out).toContain("s3://");
    expect(help.out).toContain("url,path,tags,metadata");
    expect((await imgd(["--help"])).out).toContain("  import ");
    const bad = await imgd(["import", folder, "--visibility", "secret", ...withKey(a)]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--visibility");
    expect((await imgd(["import", join(dir, "nothing-here"), ...withKey(a)])).code).toBe(2);
  });

  test("--dry-run shows the plan and changes nothing", async () => {
    const r = await imgd(["import", folder, "--dry-run", ...withKey(b)]);
    expect(r.code).toBe(1); // the text file would be refused
    const lines = r.out.trim().split("\n");
    expect(lines.filter((l) => l.startsWith("would import ")).length).toBe(200);
    expect(lines).toContain("would import blog/posts/img-003.png");
    expect(r.out).toMatch(/would refuse notes\/readme\.txt: .+/);
    expect(r.err).toContain("dry run, nothing changed");
    expect(await count(b)).toBe(0);
  });

  test("killed half-way and run again: the same library as a clean import, nothing twice", async () => {
    // The clean import, into the second server; piped, so plain lines.
    const clean = await imgd(["import", folder, ...withKey(b)]);
    expect(clean.code).toBe(1);
    expect(clean.err).not.toContain("\r");
    expect(clean.err).toContain("imported 2019/summer/img-002.jpg");
    expect(clean.err).toMatch(/Not imported:\n {2}refused notes\/readme\.txt: .+/);
    expect(clean.err).toContain("200 imported");
    const expected = await library(b);
    expect(expected).toEqual(written);

    // Killed once about half the images are in.
    const p = spawn(["import", folder, "--concurrency", "2", ...withKey(a)]);
    let seen = 0;
    for (let i = 0; i < 3000 && seen < 100 && p.exitCode === null; i++) {
      seen = await count(a);
      if (seen < 100) await Bun.sleep(20);
    }
    p.kill("SIGKILL");
    await p.exited;
    const atKill = await count(a);
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(200);

    const again = await imgd(["import", folder, ...withKey(a)]);
    expect(again.code).toBe(1);
    expect(again.err).toContain("skipped (already there)");
    expect(again.err).toMatch(/skipped [\w/.-]+: already there/);
    expect(await library(a)).toEqual(expected);

    // A third run finds everything there.
    const third = await imgd(["import", folder, "--dry-run", ...withKey(a)]);
    expect(
      third.out
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("would skip ")).length,
    ).toBe(200);
    expect(await count(a)).toBe(200);
  }, 120_000);

  test.skipIf(!Bun.which("script"))(
    "on a terminal: a progress bar instead of a line per file",
    async () => {
      // `script` runs the command on a pseudo-terminal (util-linux).
      const command = [process.execPath, join(ROOT, "src/main.ts"), "import", folder].join(" ");
      const p = Bun.spawn(["script", "-qefc", command, "/dev/null"], {
        env: { ...process.env, IMGD_SERVER: a.url, IMGD_API_KEY: a.adminKey },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      const out = await new Response(p.stdout).text();
      expect(await p.exited).toBe(1);
      expect(out).toMatch(/\r\[#{30}\] 201\/201 files/);
      expect(out).not.toContain("skipped img-000");
      expect(out).toContain("200 skipped (already there), 1 refused");
    },
    60_000,
  );

  test("a path holding other bytes is a conflict, left alone unless --replace", async () => {
    const other = await makeImage(40, 30, "jpg");
    const up = await b.api("/api/v1/images/path/admin/2019/img-001.jpg", { method: "DELETE" });
    expect(up.status).toBe(200);
    const put = await b.api("/api/v1/images", {
      method: "POST",
      body: form({ file: { bytes: other, filename: "x.jpg" }, target_path: "2019/img-001.jpg" }),
    });
    expect(put.status).toBe(201);
    const r = await imgd(["import", folder, ...withKey(b)]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/conflict 2019\/img-001\.jpg: 2019\/img-001\.jpg holds other bytes .*--replace/);
    expect((await library(b))["2019/img-001.jpg"]).toBe(sha(other));
    const replaced = await imgd(["import", folder, "--replace", ...withKey(b)]);
    expect(replaced.err).toContain("replaced 2019/img-001.jpg");
    expect(await library(b)).toEqual(written);
  }, 60_000);
});

describe("other sources", () => {
  let s3: S3TestServer;
  let origin: ReturnType<typeof Bun.serve>;
  const served: Record<string, Uint8Array> = {};
  let hits = 0;

  beforeAll(async () => {
    s3 = await startS3();
    served["/old/cat.png"] = await makeImage(33, 21, "png");
    served["/old/deep/dog.jpg"] = await makeImage(21, 33, "jpg");
    served["/old/noext"] = await makeImage(19, 17, "jpg");
    origin = Bun.serve({
      hostname: "127.0.0.2",
      port: 0,
      fetch: (req) => {
        hits++;
        const path = new URL(req.url).pathname;
        if (path === "/old/text.jpg") return new Response("<html>not an image</html>");
        const bytes = served[path];
        return bytes ? new Response(bytes as BodyInit) : new Response("missing", { status: 404 });
      },
    });
  });

  afterAll(async () => {
    origin?.stop(true);
    await s3?.stop();
  });

  test("an S3 prefix, with a prefix of its own; run again: all skipped", async () => {
    const client = new S3Client(parseS3Url(`s3://${TEST_BUCKET}/`, s3.env));
    const objects: Record<string, Uint8Array> = {
      "uploads/2020/a.jpg": await makeImage(30, 20, "jpg"),
      "uploads/2020/sub/b.png": await makeImage(20, 30, "png"),
      "uploads/c": await makeImage(25, 25, "jpg"),
      "elsewhere/d.jpg": await makeImage(26, 26, "jpg"),
    };
    for (const [k, v] of Object.entries(objects)) await client.put(k, v);
    const env = s3.env;
    const r = await imgd(["import", `s3://${TEST_BUCKET}/uploads/`, "--prefix", "s3/", ...withKey(a)], env);
    expect(r.err).toContain("3 imported");
    expect(r.code).toBe(0);
    const lib = await library(a);
    expect(lib["s3/2020/a.jpg"]).toBe(sha(objects["uploads/2020/a.jpg"]));
    expect(lib["s3/2020/sub/b.png"]).toBe(sha(objects["uploads/2020/sub/b.png"]));
    // No extension: it gets its format's, and the old URL (without one) still finds it.
    expect(lib["s3/c.jpg"]).toBe(sha(objects["uploads/c"]));
    const old = await fetch(`${a.url}/i/admin/s3/c`);
    expect(old.status).toBe(200);
    expect(await decode(new Uint8Array(await old.arrayBuffer()))).toMatchObject({ width: 25, height: 25 });
    expect(Object.keys(lib).some((p) => p.includes("d.jpg"))).toBe(false);
    const again = await imgd(["import", `s3://${TEST_BUCKET}/uploads/`, "--prefix", "s3/", ...withKey(a)], env);
    expect(again.code).toBe(0);
    expect(again.err).toContain("3 skipped");
  }, 60_000);

  test("a CSV and a URL list, fetched by the server (its allowed networks only)", async () => {
    const base = `http://127.0.0.2:${origin.port}`;
    const csv = join(dir, "list.csv");
    await writeFile(
      csv,
      [
        "url,path,tags,metadata",
        `${base}/old/cat.png,moved/kitty.png,"pets,cats","{""alt"":""A cat""}"`,
        `${base}/old/deep/dog.jpg,,,`,
        `${base}/old/text.jpg,,,`,
        `${base}/old/noext,,,`,
        `${base}/old/gone.jpg,,,`,
      ].join("\r\n"),
    );
    const r = await imgd(["import", csv, "--tags", "imported", ...withKey(a)]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("2 imported");
    expect(r.err).toMatch(/refused old\/text\.jpg: .*did not return an image/);
    expect(r.err).toMatch(/refused old\/noext: .*no image extension/);
    expect(r.err).toMatch(/refused old\/gone\.jpg: .*HTTP 404/);
    const cat = (await (await a.api("/api/v1/images/path/admin/moved/kitty.png")).json()) as any;
    expect(cat.metadata.hash).toBe(sha(served["/old/cat.png"]));
    expect(cat.tags.sort()).toEqual(["cats", "imported", "pets"]);
    expect(cat.custom_metadata).toEqual({ alt: "A cat" });
    expect(cat.source_url).toBe(`${base}/old/cat.png`);
    const dog = (await (await a.api("/api/v1/images/path/admin/old/deep/dog.jpg")).json()) as any;
    expect(dog.metadata.hash).toBe(sha(served["/old/deep/dog.jpg"]));

    // A plain list: one URL a line, comments skipped; what the CSV brought is there already.
    const list = join(dir, "urls.txt");
    await writeFile(list, `# old site\n${base}/old/deep/dog.jpg\n\n${base}/old/cat.png\n`);
    const again = await imgd(["import", list, ...withKey(a)]);
    expect(again.code).toBe(0);
    expect(again.err).toContain("skipped old/deep/dog.jpg: already there");
    expect(again.err).toContain("imported old/cat.png: the same bytes as an image already there");
    // A server that does not allow the origin's network refuses before any connection.
    const closed = await startServer();
    try {
      const before = hits;
      const refused = await imgd(["import", list, ...withKey(closed)]);
      expect(refused.code).toBe(1);
      expect(refused.err).toContain("refused old/cat.png");
      expect(refused.err).toMatch(/not allowed|not public|private|loopback/i);
      expect(hits).toBe(before);
      expect(await count(closed)).toBe(0);
    } finally {
      await closed.stop();
    }
    expect((await library(a))["old/cat.png"]).toBe(sha(served["/old/cat.png"]));
  }, 60_000);

  test("--data-dir: in this process, as the admin; the server then serves what it imported", async () => {
    const data = await mkdtemp(join(tmpdir(), "imgd-import-data-"));
    const small = join(dir, "small");
    await mkdir(join(small, "x"), { recursive: true });
    const one = await makeImage(12, 9, "png");
    await writeFile(join(small, "x", "one.png"), one);
    await writeFile(join(small, "two.jpg"), await makeImage(9, 12, "jpg"));
    const big = await makeImage(300, 300, "png");
    expect(big.byteLength).toBeGreaterThan(20_000);
    await writeFile(join(small, "big.png"), big);
    const r = await imgd(["import", small, "--data-dir", data, "--visibility", "private"], {
      IMGD_MAX_UPLOAD_BYTES: "20000",
    });
    expect(r.err).toContain("2 imported");
    expect(r.err).toMatch(/refused big\.png: .*larger than the upload limit of 20000 bytes/);
    expect(r.code).toBe(1);
    const again = await imgd(["import", small, "--data-dir", data]);
    expect(again.err).toContain("1 imported, 2 skipped");
    expect(again.code).toBe(0);
    // URLs go through this process's own SSRF-safe fetcher: refused unless the network is allowed.
    const list = join(dir, "one-url.txt");
    await writeFile(list, `http://127.0.0.2:${origin.port}/old/cat.png\n`);
    const seen = hits;
    const closed = await imgd(["import", list, "--data-dir", data]);
    expect(closed.code).toBe(1);
    expect(closed.err).toContain("refused old/cat.png");
    expect(hits).toBe(seen);
    const open = await imgd(["import", list, "--data-dir", data], ALLOW);
    expect(open.err).toContain("imported old/cat.png");
    expect(open.code).toBe(0);
    const s = await startServer({ dataDir: data });
    try {
      const keyed = await imgd(["keys", "create", "--data-dir", data], s.env);
      const res = await s.api("/api/v1/images/path/admin/x/one.png", { key: keyed.out.trim() });
      const body = (await res.json()) as any;
      expect(body.metadata.hash).toBe(sha(one));
      expect(body.visibility).toBe("private");
    } finally {
      await s.stop();
      await removeDataDir(data);
    }
  }, 60_000);
});
