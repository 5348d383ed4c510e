// The on-disk layout of an embedded (SQLite + filesystem) imgd data directory, as operator
// tools see it. The server reaches these files only through its stores; backup, restore and
// doctor work on the directory itself, so they share this one description of it.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { shardedPath } from "../store/fs/files.ts";

// The filesystem stores' own description of their sharded trees.
export { shardedFiles } from "../store/fs/files.ts";

export const HASH = /^[0-9a-f]{64}$/;

export function layout(dataDir: string) {
  return {
    database: join(dataDir, "imgd.sqlite"),
    secret: join(dataDir, "secret.key"),
    blobs: join(dataDir, "blobs"),
    variants: join(dataDir, "variants"),
    tmp: join(dataDir, "tmp"),
    trash: join(dataDir, "trash"),
    blob: (hash: string) => shardedPath(join(dataDir, "blobs"), hash),
    variant: (key: string) => shardedPath(join(dataDir, "variants"), key),
  };
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Entries of a directory, none if it is missing. */
export async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Reports progress on stderr: rewritten in place on a terminal, a line every few seconds otherwise. */
export function progressReporter(label: string, quiet: boolean) {
  const tty = !!process.stderr.isTTY;
  let last = 0;
  return {
    step(done: number, total: number) {
      if (quiet) return;
      const now = Date.now();
      if (done !== total && now - last < (tty ? 100 : 2000)) return;
      last = now;
      const line = `${label}: ${done}/${total}${total ? ` (${Math.floor((done / total) * 100)} %)` : ""}`;
      process.stderr.write(tty ? `\r${line}${done === total ? "\n" : ""}` : `${line}\n`);
    },
  };
}
