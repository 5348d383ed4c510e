// The doctor's checks of the files against the database: blob rows against blob files (and
// back), images whose blob row is gone, the variant cache, leftovers of interrupted work.
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { entries, exists, HASH, type layout, progressReporter, sha256File, shardedFiles } from "./layout.ts";

export interface Problem {
  check: string;
  /** What is wrong, with the file or row it is about. */
  message: string;
  /** What --repair does about it; null: it cannot, and `advice` says what to do. */
  repair: string | null;
  advice?: string;
  fixed?: boolean;
  apply?: () => Promise<void>;
}

/** One examination of a data directory, as its checks share it. */
export interface Examination {
  dataDir: string;
  L: ReturnType<typeof layout>;
  /** Skip hashing every blob (sizes are still compared). */
  quick: boolean;
  quiet: boolean;
  all: <T>(sql: string, params?: unknown[]) => T[];
  run: (sql: string, params?: unknown[]) => void;
  /** Younger than the grace period: a running server may be in the middle of it (counted as in flight). */
  recent: (path: string) => Promise<boolean>;
  /** Records one check: its problems, or its summary when it has none. */
  check: (name: string, problems: Problem[], okSummary: string) => void;
}

interface BlobRow {
  hash: string;
  size: number;
}

export async function checkFiles(x: Examination) {
  // Blob rows against blob files.
  const blobRows = x.all<BlobRow>("select hash, size from blobs order by hash").map((r) => ({
    hash: r.hash,
    size: Number(r.size),
  }));
  const rowSet = new Set(blobRows.map((r) => r.hash));
  const usersOf = (hash: string) =>
    x.all<{ id: string }>("select id from images where blob_hash = ? order by id", [hash]).map((r) => r.id);
  const missing: Problem[] = [];
  const damaged: Problem[] = [];
  const progress = progressReporter(x.quick ? "checking blob sizes" : "hashing blobs", x.quiet);
  for (let i = 0; i < blobRows.length; i++) {
    const { hash, size } = blobRows[i];
    progress.step(i + 1, blobRows.length);
    const path = x.L.blob(hash);
    const st = await stat(path).catch(() => null);
    if (!st) {
      const inTrash = join(x.L.trash, hash);
      if (await exists(inTrash)) {
        if (await x.recent(inTrash)) continue; // a delete in progress
        missing.push({
          check: "blob rows without files",
          message: `blob ${hash} is in the trash but its row is still there`,
          repair: "move it back from the trash",
          apply: async () => {
            await mkdir(dirname(path), { recursive: true });
            await rename(inTrash, path);
          },
        });
        continue;
      }
      const images = usersOf(hash);
      if (images.length === 0) {
        missing.push({
          check: "blob rows without files",
          message: `blob ${hash} has a row but no file, and no image uses it`,
          repair: "delete the row and its variants",
          apply: async () => {
            await dropVariantsOf(x, hash);
            x.run("delete from blobs where hash = ?", [hash]);
          },
        });
      } else {
        missing.push({
          check: "blob rows without files",
          message: `blob ${hash} is missing: image${images.length > 1 ? "s" : ""} ${images.join(", ")} lost ${images.length > 1 ? "their" : "its"} original`,
          repair: null,
          advice: `restore the file from a backup to ${path}, or delete the image${images.length > 1 ? "s" : ""} (imgd rm ${images.join(" ")})`,
        });
      }
      continue;
    }
    const wrong =
      st.size !== size
        ? `is ${st.size} bytes, its row says ${size}`
        : !x.quick && (await sha256File(path)) !== hash
          ? "does not hash to its name"
          : null;
    if (wrong) {
      const images = usersOf(hash);
      damaged.push({
        check: "blob contents",
        message: `blob ${hash} ${wrong} (used by ${images.length ? images.join(", ") : "no image"})`,
        repair: null,
        advice: `restore the file from a backup to ${path}${images.length ? `, or delete the image${images.length > 1 ? "s" : ""}` : ""}`,
      });
    }
  }
  x.check("blob rows without files", missing, `ok (${blobRows.length} blobs)`);
  x.check("blob contents", damaged, x.quick ? "sizes ok (not hashed: --quick)" : "ok (every blob hashes to its name)");

  // Images whose blob row is gone (possible only with foreign keys off): the row can be made
  // again from the image's own columns when the file is there and whole.
  const imageOrphans = x.all<{
    id: string;
    blob_hash: string;
    size: number;
    format: string;
    mime_type: string;
    width: number;
    height: number;
    created_at: number;
  }>(
    "select id, blob_hash, size, format, mime_type, width, height, created_at from images where blob_hash not in (select hash from blobs)",
  );
  const rebuilt = new Set<string>();
  const imageProblems: Problem[] = [];
  for (const img of imageOrphans) {
    const path = x.L.blob(img.blob_hash);
    const whole = (await exists(path)) && (await sha256File(path)) === img.blob_hash;
    if (whole && !rebuilt.has(img.blob_hash)) {
      rebuilt.add(img.blob_hash);
      imageProblems.push({
        check: "images without blob rows",
        message: `image ${img.id} names blob ${img.blob_hash}, which has a file but no row`,
        repair: "recreate the blob row from the image",
        apply: async () => {
          x.run(
            "insert or ignore into blobs (hash, size, format, mime, width, height, created_at) values (?, ?, ?, ?, ?, ?, ?)",
            [img.blob_hash, img.size, img.format, img.mime_type, img.width, img.height, img.created_at],
          );
        },
      });
    } else if (!whole) {
      imageProblems.push({
        check: "images without blob rows",
        message: `image ${img.id} names blob ${img.blob_hash}, which has neither row nor whole file`,
        repair: null,
        advice: `restore the file from a backup to ${path}, or delete the image (imgd rm ${img.id})`,
      });
    }
  }
  x.check("images without blob rows", imageProblems, "ok");

  // Blob files against blob rows.
  const orphans: Problem[] = [];
  const lostFound = join(x.dataDir, "lost+found");
  for await (const f of shardedFiles(x.L.blobs)) {
    if (rowSet.has(f.name) || rebuilt.has(f.name)) continue;
    if (await x.recent(f.path)) continue; // an upload between its file and its row
    orphans.push({
      check: "blob files without rows",
      message: `${f.path} is not named by the database`,
      repair: `move it to ${lostFound}`,
      apply: async () => {
        await mkdir(lostFound, { recursive: true });
        await rename(f.path, join(lostFound, f.name));
      },
    });
  }
  x.check("blob files without rows", orphans, "ok");

  // The variant cache: every row has its whole file and its blob; every file has its row.
  const variantRows = x.all<{ key: string; size: number; blob_hash: string; has_blob: number }>(
    "select v.key, v.size, v.blob_hash, (select count(*) from blobs b where b.hash = v.blob_hash) as has_blob from variants v",
  );
  const variantProblems: Problem[] = [];
  const variantKeys = new Set<string>();
  for (const v of variantRows) {
    variantKeys.add(v.key);
    const path = x.L.variant(v.key);
    const size = await stat(path).then(
      (s) => s.size,
      () => -1,
    );
    const why = !v.has_blob
      ? `belongs to blob ${v.blob_hash}, which is gone`
      : size < 0
        ? "has a row but no file"
        : size !== Number(v.size)
          ? `is ${size} bytes, its row says ${v.size}`
          : null;
    if (why)
      variantProblems.push({
        check: "variant cache",
        message: `variant ${v.key} ${why}`,
        repair: "drop it from the cache (it is made again on request)",
        apply: async () => {
          x.run("delete from variants where key = ?", [v.key]);
          await rm(path, { force: true });
        },
      });
  }
  for await (const f of shardedFiles(x.L.variants)) {
    if (variantKeys.has(f.name) || (await x.recent(f.path))) continue;
    variantProblems.push({
      check: "variant cache",
      message: `${f.path} is not in the variant index`,
      repair: "delete the file (the cache makes it again on request)",
      apply: () => rm(f.path, { force: true }),
    });
  }
  x.check("variant cache", variantProblems, `ok (${variantRows.length} variants)`);

  // Leftovers of interrupted work.
  const leftovers: Problem[] = [];
  for (const name of await entries(x.L.tmp)) {
    const path = join(x.L.tmp, name);
    if (await x.recent(path)) continue;
    leftovers.push({
      check: "temp and trash leftovers",
      message: `${path}: an interrupted upload or transform`,
      repair: "delete it",
      apply: () => rm(path, { recursive: true, force: true }),
    });
  }
  for (const name of await entries(x.L.trash)) {
    const path = join(x.L.trash, name);
    if (HASH.test(name) && rowSet.has(name)) continue; // handled above: it goes back
    if (await x.recent(path)) continue;
    leftovers.push({
      check: "temp and trash leftovers",
      message: `${path}: a deleted blob not yet purged`,
      repair: "delete it (its image was deleted)",
      apply: () => rm(path, { recursive: true, force: true }),
    });
  }
  x.check("temp and trash leftovers", leftovers, "ok");
}

async function dropVariantsOf(x: Examination, hash: string) {
  for (const v of x.all<{ key: string }>("select key from variants where blob_hash = ?", [hash])) {
    x.run("delete from variants where key = ?", [v.key]);
    await rm(x.L.variant(v.key), { force: true });
  }
}
