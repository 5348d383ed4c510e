import { open, readdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { StoredObject } from "../types.ts";

// File helpers the filesystem drivers share. Single files are removed with unlink: a recursive
// rm is for trees only, and under Windows emulation rm of a file fails outright. Every handle
// opened here is closed before the file can be renamed or removed (Windows refuses either
// while a handle is open).

/** Turns a local file into a response body as cheaply as the runtime can (sendfile on Bun). */
export type FileBody = (path: string) => BodyInit;

const CHUNK = 256 * 1024;

export async function unlinkIfPresent(path: string): Promise<void> {
  await unlink(path).catch(ignoreMissing);
}

export function ignoreMissing(err: NodeJS.ErrnoException) {
  if (err.code !== "ENOENT") throw err;
}

/**
 * Moves a finished file to its place, a name given by its content (a blob's hash, a variant's
 * key), so a file already there holds the same bytes. POSIX replaces it; Windows refuses while
 * a reader has it open (EPERM, EACCES) or because it exists (EEXIST). Then the one there stays
 * and `from` is dropped: two identical uploads racing while the first is served both succeed.
 * `move` is the rename itself (a parameter so a test can refuse as Windows does).
 */
export async function renameIntoPlace(from: string, to: string, move = rename): Promise<void> {
  try {
    await move(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!(code === "EPERM" || code === "EACCES" || code === "EEXIST") || !(await isFile(to))) throw err;
    await unlinkIfPresent(from);
  }
}

export async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * Makes a rename in `dir` durable. Windows cannot open a directory, and does not need this:
 * NTFS journals the rename itself. So it is skipped there on purpose, and elsewhere a platform
 * that refuses is tolerated the same way.
 */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  const fd = await open(dir, "r").catch(() => null);
  if (!fd) return;
  try {
    await fd.sync().catch(() => {});
  } finally {
    await fd.close();
  }
}

/** A file as a web stream; the handle is open only while it is read and closes at the end or on cancel. */
export function fileStream(path: string): ReadableStream<Uint8Array> {
  let fd: Awaited<ReturnType<typeof open>> | null = null;
  const close = async () => {
    const f = fd;
    fd = null;
    await f?.close();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        fd ??= await open(path, "r");
        const buf = new Uint8Array(CHUNK);
        const { bytesRead } = await fd.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) {
          await close();
          controller.close();
        } else controller.enqueue(bytesRead === CHUNK ? buf : buf.slice(0, bytesRead));
      } catch (err) {
        await close().catch(() => {});
        controller.error(err);
      }
    },
    cancel: close,
  });
}

export async function readWhole(path: string): Promise<Uint8Array> {
  const f = await open(path, "r");
  try {
    return new Uint8Array(await f.readFile());
  } finally {
    await f.close();
  }
}

/** A stored file of known size, or null when it is missing. */
export async function fileObject(path: string, fileBody: FileBody): Promise<StoredObject | null> {
  const size = await stat(path).then(
    (s) => (s.isFile() ? s.size : -1),
    () => -1,
  );
  if (size < 0) return null;
  return { size, body: () => fileBody(path), stream: () => fileStream(path) };
}

/** Removes the leftovers named `*<suffix>` in a temp directory; returns how many. */
export async function removeTemp(dir: string, suffix: string): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir)) {
    if (!name.endsWith(suffix)) continue;
    await unlinkIfPresent(join(dir, name));
    removed++;
  }
  return removed;
}

/** Where `name` lives in a two-level sharded tree: `root/ab/cd/<name>`. */
export function shardedPath(root: string, name: string): string {
  return join(root, name.slice(0, 2), name.slice(2, 4), name);
}

/** Files of a two-level sharded tree (`root/ab/cd/<name>`); a missing root has none. */
export async function* shardedFiles(root: string): AsyncGenerator<{ name: string; path: string }> {
  for (const a of await readdir(root).catch(() => [] as string[])) {
    for (const b of await readdir(join(root, a)).catch(() => [] as string[])) {
      for (const name of await readdir(join(root, a, b)).catch(() => [] as string[]))
        yield { name, path: join(root, a, b, name) };
    }
  }
}

/** Removes the files of a sharded tree that `keep` refuses; returns how many. */
export async function sweepSharded(root: string, keep: (name: string) => Promise<boolean>): Promise<number> {
  let removed = 0;
  for await (const { name, path } of shardedFiles(root)) {
    if (await keep(name)) continue;
    await unlinkIfPresent(path);
    removed++;
  }
  return removed;
}
