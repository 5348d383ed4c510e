import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, makeImage } from "../helpers/images.ts";
import { form, imgdCommand, startServer } from "../helpers/server.ts";

// A backup of a running instance under load, restored into an empty data dir, serves the same
// library, keys, presets, counters and signed URLs; restore refuses a non-empty target and a
// damaged backup.

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const tmp: string[] = [];
const scratch = async (name: string) => {
  const d = await mkdtemp(join(tmpdir(), `imgd-${name}-`));
  tmp.push(d);
  return d;
};
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

/** The CLI under the runtime the suite runs the server with. */
async function imgd(args: string[]) {
  const cmd = imgdCommand();
  const p = Bun.spawn([...cmd, ...args], { stdout: "pipe", stderr: "pipe", env: process.env });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

test("backup of a running instance under load → restore → the same library, keys, counters and signed URLs", async () => {
  const s = await startServer();
  const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
  try {
    const uploaded: { id: string; hash: string; path: string; bytes: Uint8Array }[] = [];
    const upload = async (bytes: Uint8Array, name: string, extra: Record<string, string> = {}) => {
      const res = await s.api("/api/v1/images", {
        method: "POST",
        body: form({ file: { bytes, filename: name }, ...extra }),
      });
      expect(res.status).toBe(201);
      const b = (await res.json()) as any;
      uploaded.push({ id: b.id, hash: b.hash, path: new URL(b.url).pathname, bytes });
      return b;
    };
    for (let i = 0; i < 6; i++)
      await upload(await makeImage(40 + i, 30, i % 2 ? "png" : "jpg"), `before-${i}.${i % 2 ? "png" : "jpg"}`);
    const priv = await upload(await makeImage(50, 50, "png"), "secret.png", { visibility: "private" });
    const signed = (await (
      await s.api(`/api/v1/images/${priv.id}/signed-url`, {
        method: "POST",
        body: JSON.stringify({ expires_in_seconds: 3600 }),
        headers: { "content-type": "application/json" },
      })
    ).json()) as any;
    expect((await fetch(signed.signed_url)).status).toBe(200);
    const key2 = (await (
      await s.api("/api/v1/settings/api-keys", {
        method: "POST",
        body: JSON.stringify({ name: "second", scopes: ["read"] }),
        headers: { "content-type": "application/json" },
      })
    ).json()) as any;
    const readKey = key2.key ?? key2.api_key?.key ?? key2.secret;
    expect(readKey).toMatch(/^imgsrc_/);
    expect(
      (
        await s.api("/api/v1/settings/presets", {
          method: "POST",
          body: JSON.stringify({ name: "thumb", params: { w: 20, h: 20, fit: "cover" } }),
          headers: { "content-type": "application/json" },
        })
      ).status,
    ).toBe(201);
    expect((await fetch(`${s.url}${uploaded[0].path.replace(/\.\w+$/, ".webp")}?w=25`)).status).toBe(200);
    const usageBefore = (await (await s.api("/api/v1/usage")).json()) as any;
    expect(usageBefore.current_period.uploads).toBe(7);

    // Uploads and deletes go on while the backup runs.
    let stop = false;
    const during = (async () => {
      for (let i = 0; !stop; i++) {
        const b = await upload(await makeImage(60 + (i % 50), 20 + Math.floor(i / 50), "png"), `during-${i}.png`);
        if (i % 3 === 2) await s.api(`/api/v1/images/${b.id}`, { method: "DELETE" });
      }
    })();
    const dest = join(await scratch("backup"), "b1");
    const backup = await imgd(["backup", dest, "--data-dir", s.dataDir]);
    stop = true;
    await during;
    expect(backup.code).toBe(0);
    expect(backup.err).toContain("verifying blobs");
    expect(backup.err).toMatch(/backup: \d+ images, 1 users, 2 keys/);

    const manifest = JSON.parse(readFileSync(join(dest, "manifest.json"), "utf8"));
    expect(manifest.format).toBe("imgd-backup");
    expect(manifest.migration).toMatch(/^\d{3}_/);
    expect(manifest.database.sha256).toBe(sha256(readFileSync(join(dest, "imgd.sqlite"))));
    expect(manifest.secret.sha256).toBe(sha256(readFileSync(join(dest, "secret.key"))));
    for (const b of manifest.blobs)
      expect(sha256(readFileSync(join(dest, "blobs", b.hash.slice(0, 2), b.hash.slice(2, 4), b.hash)))).toBe(b.hash);
    for (const u of uploaded.slice(0, 7)) expect(manifest.blobs.map((b: any) => b.hash)).toContain(u.hash);
    // The backup holds exactly the blobs its database names.
    const files = readdirSync(join(dest, "blobs"), { recursive: true }).filter((f) => /[0-9a-f]{64}$/.test(String(f)));
    expect(files.length).toBe(manifest.blobs.length);
    expect(existsSync(join(dest, "variants"))).toBe(false);

    // A non-empty target is refused, with what to do.
    const busy = await scratch("busy");
    writeFileSync(join(busy, "something"), "x");
    const refused = await imgd(["restore", dest, "--data-dir", busy]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("is not empty");
    expect(refused.err).toContain("restore into a new or empty directory");

    // A damaged backup is refused before anything is written. (Blobs may be hard links into the
    // live data dir: replace the file rather than write into it.)
    const damaged = join(await scratch("damaged"), "b");
    cpSync(dest, damaged, { recursive: true });
    const victim = manifest.blobs[0].hash;
    const victimPath = join(damaged, "blobs", victim.slice(0, 2), victim.slice(2, 4), victim);
    const bytes = readFileSync(victimPath);
    bytes[bytes.length >> 1] ^= 0xff;
    rmSync(victimPath);
    writeFileSync(victimPath, bytes);
    const target0 = join(await scratch("target0"), "data");
    const bad = await imgd(["restore", damaged, "--data-dir", target0]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`blob ${victim} is damaged`);
    expect(existsSync(target0)).toBe(false);

    const target = join(await scratch("target"), "data");
    const restored = await imgd(["restore", dest, "--data-dir", target]);
    expect(restored.code).toBe(0);
    expect(restored.err).toContain("imgd serve --data-dir");
    expect(statSync(join(target, "secret.key")).mode & 0o777).toBe(0o600);

    const r = await startServer({ dataDir: target });
    try {
      // The admin key of the original works, and the second key with its scope.
      const list = (await (
        await fetch(`${r.url}/api/v1/images?limit=100`, { headers: bearer(s.adminKey) })
      ).json()) as any;
      expect(list.images.length).toBe(manifest.counts.images);
      for (const u of uploaded.slice(0, 7)) expect(list.images.map((i: any) => i.id)).toContain(u.id);
      expect((await fetch(`${r.url}/api/v1/images`, { headers: bearer(readKey) })).status).toBe(200);
      expect(
        (
          await fetch(`${r.url}/api/v1/images`, {
            method: "POST",
            headers: bearer(readKey),
            body: form({ file: { bytes: uploaded[0].bytes, filename: "x.jpg" } }),
          })
        ).status,
      ).toBe(403);
      // Originals byte for byte; every listed image is whole.
      for (const img of list.images) {
        if (img.visibility === "private") continue;
        const meta = (await (
          await fetch(`${r.url}/api/v1/images/${img.id}`, { headers: bearer(s.adminKey) })
        ).json()) as any;
        const res = await fetch(`${r.url}/i/admin/${img.paths[0]}`);
        expect(res.status).toBe(200);
        expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(meta.metadata.hash);
      }
      // Signed URLs made before the backup still verify (same secret), and the preset is there.
      const viaSigned = await fetch(signed.signed_url.replace(/^http:\/\/[^/]+/, r.url));
      expect(viaSigned.status).toBe(200);
      expect(sha256(new Uint8Array(await viaSigned.arrayBuffer()))).toBe(priv.hash);
      const thumb = await fetch(`${r.url}${uploaded[1].path.replace(/\.\w+$/, ".png")}?p:thumb`);
      expect(thumb.status).toBe(200);
      expect(await decode(new Uint8Array(await thumb.arrayBuffer()))).toMatchObject({
        format: "png",
        width: 20,
        height: 20,
      });
      // Counters: at least what was counted before the backup started, at most what the source has now.
      const usageAfter = (await (await fetch(`${r.url}/api/v1/usage`, { headers: bearer(s.adminKey) })).json()) as any;
      const usageNow = (await (await s.api("/api/v1/usage")).json()) as any;
      expect(usageAfter.current_period.uploads).toBeGreaterThanOrEqual(7);
      expect(usageAfter.current_period.uploads).toBeLessThanOrEqual(usageNow.current_period.uploads);
      expect(usageAfter.current_period.transformations).toBeGreaterThanOrEqual(1);
      expect(usageAfter.total_images).toBe(manifest.counts.images);
    } finally {
      await r.stop({ keepData: true });
    }
  } finally {
    await s.stop();
  }
}, 90_000);

test("backup into a non-empty directory and of a directory that is not a data dir: exit 1 with what to do", async () => {
  const notData = await scratch("notdata");
  const r1 = await imgd(["backup", join(notData, "b"), "--data-dir", notData]);
  expect(r1.code).toBe(1);
  expect(r1.err).toContain("has no imgd.sqlite");
  const r2 = await imgd(["restore", notData, "--data-dir", join(notData, "x")]);
  expect(r2.code).toBe(1);
  expect(r2.err).toContain("not an imgd backup");
  const h = await imgd(["backup", "--help"]);
  expect(h.code).toBe(0);
  expect(h.out).toContain("Usage: imgd backup");
  expect((await imgd(["restore", "--help"])).out).toContain("Usage: imgd restore");
  expect((await imgd(["backup"])).code).toBe(2);
  expect((await imgd(["backup", "x", "--colour"])).err).toContain("--colour");
});

// Hard links cannot cross filesystems: /dev/shm (tmpfs) is another one than the temp dir here.
const otherFs = existsSync("/dev/shm") && statSync("/dev/shm").dev !== statSync(tmpdir()).dev;
test.skipIf(!otherFs)(
  "across filesystems the blobs are copied, and the copy restores byte for byte",
  async () => {
    const s = await startServer();
    const dest = await mkdtemp("/dev/shm/imgd-backup-");
    tmp.push(dest);
    try {
      const bytes = await makeImage(33, 22, "png");
      const up = (await (
        await s.api("/api/v1/images", { method: "POST", body: form({ file: { bytes, filename: "c.png" } }) })
      ).json()) as any;
      const b = await imgd(["backup", join(dest, "b"), "--data-dir", s.dataDir]);
      expect(b.code).toBe(0);
      expect(b.err).toContain("(0 linked, 1 copied)");
      const target = join(await scratch("xfs"), "data");
      const r = await imgd(["restore", join(dest, "b"), "--data-dir", target]);
      expect(r.code).toBe(0);
      expect(r.err).toContain("(0 linked)");
      const again = await startServer({ dataDir: target });
      try {
        const res = await fetch(`${again.url}/i/admin/c.png`);
        expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(up.hash);
        expect(
          (await fetch(`${again.url}/api/v1/images/${up.id}`, { headers: { authorization: `Bearer ${s.adminKey}` } }))
            .status,
        ).toBe(200);
      } finally {
        await again.stop({ keepData: true });
      }
    } finally {
      await s.stop();
    }
  },
  60_000,
);
