import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeImage } from "../helpers/images.ts";
import { query } from "../helpers/store.ts";
import { form, removeDataDir, startServer } from "../helpers/server.ts";

// The signing secret lives in the database, so every node on one database signs alike; a data
// directory from before keeps the secret.key it had (moved into the database on first start).

const secretRow = (dataDir: string) =>
  query<{ value: string }>(dataDir, "select value from settings where name = 'signing_secret'").map((r) => r.value);

test("an existing secret.key moves into the database; URLs signed before the restart still verify", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "imgd-secret-"));
  const old = "ab".repeat(32);
  await writeFile(join(dataDir, "secret.key"), `${old}\n`, { mode: 0o600 });
  let s = await startServer({ dataDir });
  try {
    expect(secretRow(dataDir)).toEqual([old]);
    const up = await s.api("/api/v1/images", {
      method: "POST",
      body: form({ file: { bytes: await makeImage(64, 48, "png"), filename: "s.png" }, visibility: "private" }),
    });
    expect(up.status).toBe(201);
    const { id } = (await up.json()) as { id: string };
    const signed = (await (
      await s.api(`/api/v1/images/${id}/signed-url`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ expires_in_seconds: 600 }),
      })
    ).json()) as { signed_url: string };
    const path = new URL(signed.signed_url);
    expect((await fetch(s.url + path.pathname + path.search)).status).toBe(200);
    const key = s.adminKey;
    await s.stop({ keepData: true });
    // The file goes; the database still has the secret.
    await rm(join(dataDir, "secret.key"));
    s = await startServer({ dataDir });
    expect(secretRow(dataDir)).toEqual([old]);
    expect((await fetch(s.url + path.pathname + path.search)).status).toBe(200);
    expect((await s.api("/api/v1/images", { key })).status).toBe(200);
    // A data dir on SQLite keeps its copy, for backups and an older imgd.
    if (!s.env.IMGD_DATABASE_URL) expect((await readFile(join(dataDir, "secret.key"), "utf8")).trim()).toBe(old);
  } finally {
    await s.stop({ keepData: true });
    await removeDataDir(dataDir);
  }
});

test("a new instance makes one secret and keeps it in the database", async () => {
  const s = await startServer();
  try {
    const [secret] = secretRow(s.dataDir);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    if (s.env.IMGD_DATABASE_URL) expect(existsSync(join(s.dataDir, "secret.key"))).toBe(false);
    else expect((await readFile(join(s.dataDir, "secret.key"), "utf8")).trim()).toBe(secret);
  } finally {
    await s.stop();
  }
});
