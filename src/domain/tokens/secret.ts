import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Settings } from "../../db/settings.ts";

/**
 * The signing secret: IMGD_SECRET, or the one in the database, so that a URL signed by one node
 * verifies on every other. A data directory from before keeps its secret.key: its key moves
 * into the database on the first start (and the file stays, for an older imgd).
 */
export async function signingSecret(
  o: { secret?: string | null; dataDir: string; databaseUrl?: string | null },
  settings: Settings,
): Promise<Uint8Array> {
  if (o.secret) {
    return /^[0-9a-f]{64}$/i.test(o.secret) ? Buffer.from(o.secret, "hex") : Buffer.from(o.secret, "utf8");
  }
  const file = join(o.dataDir, "secret.key");
  const hex = await settings.ensure("signing_secret", async () => {
    const text = await readFile(file, "utf8").catch((err) => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    });
    if (text === null) return randomBytes(32).toString("hex");
    if (/^[0-9a-f]{64}$/.test(text.trim())) return text.trim();
    throw new Error(
      `${file} is damaged: delete it to create a new one (signed URLs made with the old one stop working)`,
    );
  });
  // SQLite's data directory keeps a copy for backups and older imgd versions; "wx": never
  // overwrite one that is there.
  if (!o.databaseUrl) {
    await writeFile(file, `${hex}\n`, { flag: "wx", mode: 0o600 }).catch((err) => {
      if (err.code !== "EEXIST") throw err;
    });
  }
  return Buffer.from(hex, "hex");
}
