import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  type ArchiveStore,
  BlobTooLargeError,
  type BlobStore,
  type StagedBlob,
  type StoredObject,
  type VariantStore,
} from "../../src/store/types.ts";

// The contract every storage driver keeps, written against the interfaces only: the
// filesystem driver runs it in fs.test.ts, and the next driver (S3) runs the same suite.

export interface DriverUnderTest {
  blobs: BlobStore;
  variants: VariantStore;
  archives: ArchiveStore;
  /** The same storage through new driver objects, as after a restart (a crash, when nothing was finished). */
  reopen(): Promise<{ blobs: BlobStore; variants: VariantStore; archives: ArchiveStore }>;
  /** How many leftovers of unfinished writes the storage holds (temp files, incomplete uploads). */
  leftovers(): Promise<number>;
  /** Strings that must never appear in anything the driver hands out (its root directory, bucket, …). */
  secrets: string[];
  cleanup(): Promise<void>;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function bytesOf(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** The bytes in uneven chunks, as a network delivers them. */
async function* chunks(b: Uint8Array, size = 65_521): AsyncIterable<Uint8Array> {
  for (let i = 0; i < b.byteLength; i += size) yield b.subarray(i, i + size);
}

async function readAll(s: ReadableStream<Uint8Array>) {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

async function expectObject(o: StoredObject | null, want: Uint8Array) {
  expect(o).not.toBeNull();
  expect(o!.size).toBe(want.byteLength);
  expect(sha(new Uint8Array(await new Response(o!.body()).arrayBuffer()))).toBe(sha(want));
  expect(sha(await readAll(o!.stream()))).toBe(sha(want));
}

/** Every string reachable in the object's own fields (not through functions). */
function strings(v: unknown, seen = new Set<unknown>()): string[] {
  if (typeof v === "string") return [v];
  if (!v || typeof v !== "object" || seen.has(v) || ArrayBuffer.isView(v)) return [];
  seen.add(v);
  return Object.values(v).flatMap((x) => strings(x, seen));
}

export function storageContract(name: string, open: () => Promise<DriverUnderTest>) {
  const withDriver = (fn: (d: DriverUnderTest) => Promise<void>) => async () => {
    const d = await open();
    try {
      await fn(d);
    } finally {
      await d.cleanup();
    }
  };

  describe(`${name}: blobs`, () => {
    test(
      "stage hashes while it receives; nothing is stored before commit",
      withDriver(async (d) => {
        const data = bytesOf(3 * 1024 * 1024 + 17);
        const staged = await d.blobs.stage(chunks(data), data.byteLength);
        expect(staged.hash).toBe(sha(data));
        expect(staged.size).toBe(data.byteLength);
        expect(staged.head).toEqual(data.subarray(0, 1 << 20));
        expect(staged.tail).toEqual(data.subarray(data.byteLength - 8192));
        expect(sha(await staged.read())).toBe(staged.hash);
        expect(await d.blobs.exists(staged.hash)).toBe(false);
        expect(await d.blobs.open(staged.hash)).toBeNull();
        await staged.commit();
        expect(await d.blobs.exists(staged.hash)).toBe(true);
        expect(sha(await d.blobs.read(staged.hash))).toBe(staged.hash);
        await expectObject(await d.blobs.open(staged.hash), data);
        expect(await d.leftovers()).toBe(0);
      }),
    );

    test(
      "small and empty bodies: head and tail are the whole thing",
      withDriver(async (d) => {
        const small = bytesOf(100, 2);
        const s = await d.blobs.stage(chunks(small, 7), 1000);
        expect(s.head).toEqual(small);
        expect(s.tail).toEqual(small);
        await s.discard();
        const empty = await d.blobs.stage(chunks(new Uint8Array(0)), 1000);
        expect(empty.size).toBe(0);
        expect(empty.hash).toBe(sha(new Uint8Array(0)));
        await empty.discard();
        expect(await d.leftovers()).toBe(0);
      }),
    );

    test(
      "the same content committed twice is stored once; the second copy is dropped",
      withDriver(async (d) => {
        const data = bytesOf(50_000, 3);
        const a = await d.blobs.stage(chunks(data), 1e6);
        const b = await d.blobs.stage(chunks(data, 999), 1e6);
        await a.commit();
        await b.commit();
        await b.discard();
        await expectObject(await d.blobs.open(a.hash), data);
        expect(await d.leftovers()).toBe(0);
      }),
    );

    test(
      "discard: nothing stays, it may be called again, and after commit it does nothing",
      withDriver(async (d) => {
        const data = bytesOf(10_000, 4);
        const s = await d.blobs.stage(chunks(data), 1e6);
        await s.discard();
        await s.discard();
        expect(await d.blobs.exists(s.hash)).toBe(false);
        await expect(s.read()).rejects.toThrow();
        await expect(s.commit()).rejects.toThrow();
        expect(await d.leftovers()).toBe(0);
        const kept = await d.blobs.stage(chunks(data), 1e6);
        await kept.commit();
        await kept.discard();
        expect(await d.blobs.exists(kept.hash)).toBe(true);
      }),
    );

    test(
      "over the limit: BlobTooLargeError, and nothing is kept",
      withDriver(async (d) => {
        const data = bytesOf(200_000, 5);
        await expect(d.blobs.stage(chunks(data), 199_999)).rejects.toBeInstanceOf(BlobTooLargeError);
        expect(await d.leftovers()).toBe(0);
        const exact = await d.blobs.stage(chunks(data), 200_000);
        expect(exact.size).toBe(200_000);
        await exact.discard();
      }),
    );

    test(
      "a source that fails midway rejects with its error and keeps nothing",
      withDriver(async (d) => {
        async function* broken() {
          yield bytesOf(100_000, 6);
          throw new Error("connection reset");
        }
        await expect(d.blobs.stage(broken(), 1e6)).rejects.toThrow("connection reset");
        expect(await d.leftovers()).toBe(0);
      }),
    );

    test(
      "trash, restore, purge: the two-step deletion around a transaction",
      withDriver(async (d) => {
        const data = bytesOf(30_000, 7);
        const s = await d.blobs.stage(chunks(data), 1e6);
        await s.commit();
        await d.blobs.trash(s.hash);
        expect(await d.blobs.exists(s.hash)).toBe(false);
        expect(await d.blobs.open(s.hash)).toBeNull();
        await d.blobs.restore(s.hash);
        await expectObject(await d.blobs.open(s.hash), data);
        await d.blobs.trash(s.hash);
        await d.blobs.purge(s.hash);
        await d.blobs.restore(s.hash);
        expect(await d.blobs.exists(s.hash)).toBe(false);
        // Missing blobs: every step is a no-op (a retry after a crash repeats them).
        const none = sha(bytesOf(1, 99));
        await d.blobs.trash(none);
        await d.blobs.restore(none);
        await d.blobs.purge(none);
      }),
    );

    test(
      "sweep after a restart: unfinished stages go, trashed blobs in use come back, unknown blobs go",
      withDriver(async (d) => {
        const commit = async (seed: number) => {
          const s = await d.blobs.stage(chunks(bytesOf(5000 + seed, seed)), 1e6);
          await s.commit();
          return s.hash;
        };
        const known = await commit(10);
        const orphan = await commit(11); // committed, but its row never was
        const trashedInUse = await commit(12); // trashed by a transaction that then rolled back
        const trashedGone = await commit(13); // trashed by a transaction that committed
        await d.blobs.trash(trashedInUse);
        await d.blobs.trash(trashedGone);
        await d.blobs.stage(chunks(bytesOf(7000, 14)), 1e6); // never committed nor discarded
        expect(await d.leftovers()).toBe(1);

        const after = await d.reopen();
        const rows = new Set([known, trashedInUse]);
        const asked: string[] = [];
        const { removed } = await after.blobs.sweep(async (h) => {
          asked.push(h);
          return rows.has(h);
        });
        expect(removed).toBeGreaterThanOrEqual(3);
        expect(await d.leftovers()).toBe(0);
        expect(await after.blobs.exists(known)).toBe(true);
        expect(await after.blobs.exists(trashedInUse)).toBe(true);
        expect(await after.blobs.exists(orphan)).toBe(false);
        expect(await after.blobs.exists(trashedGone)).toBe(false);
        expect(asked).toContain(orphan);
        // A second sweep finds nothing to do.
        expect((await after.blobs.sweep(async (h) => rows.has(h))).removed).toBe(0);
      }),
    );

    test(
      "keys are hashes: anything else is refused, so no key reaches outside the store",
      withDriver(async (d) => {
        for (const bad of ["../../etc/passwd", "ABCDEF", "", `${"a".repeat(63)}/`]) {
          await expect(d.blobs.read(bad)).rejects.toThrow();
          await expect(d.blobs.open(bad)).rejects.toThrow();
        }
      }),
    );

    test(
      "no path (or other location of the storage) is handed out",
      withDriver(async (d) => {
        const data = bytesOf(4000, 8);
        const s = await d.blobs.stage(chunks(data), 1e6);
        const exposed: object[] = [s, d.blobs, d.variants, d.archives];
        expect(Object.keys(s).sort()).toEqual(["hash", "head", "size", "tail"]);
        await s.commit();
        const o = (await d.blobs.open(s.hash))!;
        exposed.push(o);
        await d.variants.put("ab".repeat(32), data);
        exposed.push((await d.variants.open("ab".repeat(32)))!);
        await d.archives.put("x.zip", chunks(data));
        exposed.push((await d.archives.open("x.zip"))!);
        for (const thing of exposed) {
          for (const str of strings(thing)) for (const secret of d.secrets) expect(str).not.toContain(secret);
        }
        const interfaceOnly = (x: object) =>
          Object.getOwnPropertyNames(Object.getPrototypeOf(x)).filter((n) => /path|file|dir/i.test(n));
        expect(interfaceOnly(d.blobs)).toEqual([]);
        expect(interfaceOnly(d.variants)).toEqual([]);
        expect(interfaceOnly(d.archives)).toEqual([]);
        expect(interfaceOnly(s as StagedBlob)).toEqual([]);
      }),
    );
  });

  describe(`${name}: variants`, () => {
    const key = (n: number) => createHash("sha256").update(`variant ${n}`).digest("hex");

    test(
      "put, open, replace, delete",
      withDriver(async (d) => {
        const a = bytesOf(20_000, 20);
        const b = bytesOf(300, 21);
        expect(await d.variants.open(key(1))).toBeNull();
        await d.variants.put(key(1), a);
        await expectObject(await d.variants.open(key(1)), a);
        await d.variants.put(key(1), b);
        await expectObject(await d.variants.open(key(1)), b);
        await d.variants.put(key(2), a);
        await d.variants.delete([key(1), key(2), key(3)]);
        expect(await d.variants.open(key(1))).toBeNull();
        expect(await d.variants.open(key(2))).toBeNull();
        expect(await d.leftovers()).toBe(0);
      }),
    );

    test(
      "concurrent writes of one key leave one whole value",
      withDriver(async (d) => {
        const a = bytesOf(500_000, 22);
        await Promise.all(Array.from({ length: 8 }, () => d.variants.put(key(4), a)));
        await expectObject(await d.variants.open(key(4)), a);
        expect(await d.leftovers()).toBe(0);
      }),
    );

    test(
      "sweep keeps what the index knows and removes the rest",
      withDriver(async (d) => {
        for (const n of [5, 6, 7]) await d.variants.put(key(n), bytesOf(1000, n));
        const after = await d.reopen();
        const { removed } = await after.variants.sweep(async (k) => k === key(5));
        expect(removed).toBe(2);
        expect(await after.variants.open(key(5))).not.toBeNull();
        expect(await after.variants.open(key(6))).toBeNull();
        expect(await after.variants.open(key(7))).toBeNull();
      }),
    );

    test(
      "keys that are not cache keys are refused",
      withDriver(async (d) => {
        await expect(d.variants.put("../x", new Uint8Array(1))).rejects.toThrow();
        await expect(d.variants.open("../../imgd.sqlite")).rejects.toThrow();
      }),
    );
  });

  describe(`${name}: archives`, () => {
    test(
      "put a stream, open it, delete it",
      withDriver(async (d) => {
        const data = bytesOf(700_000, 30);
        expect(await d.archives.put("job-1.zip", chunks(data))).toBe(data.byteLength);
        await expectObject(await d.archives.open("job-1.zip"), data);
        await d.archives.delete("job-1.zip");
        await d.archives.delete("job-1.zip");
        expect(await d.archives.open("job-1.zip")).toBeNull();
        expect(await d.leftovers()).toBe(0);
      }),
    );

    test(
      "a source that fails keeps nothing, not even a part",
      withDriver(async (d) => {
        async function* broken() {
          yield bytesOf(200_000, 31);
          throw new Error("blob missing");
        }
        await expect(d.archives.put("job-2.zip", broken())).rejects.toThrow("blob missing");
        expect(await d.archives.open("job-2.zip")).toBeNull();
        expect(await d.leftovers()).toBe(0);
      }),
    );

    test(
      "a write cut by a crash is swept at the next start",
      withDriver(async (d) => {
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        async function* slow() {
          yield bytesOf(1000, 32);
          await held;
        }
        const writing = d.archives.put("job-3.zip", slow());
        for (let i = 0; i < 100 && (await d.leftovers()) === 0; i++) await Bun.sleep(5);
        expect(await d.leftovers()).toBe(1);
        const after = await d.reopen();
        expect((await after.archives.sweep()).removed).toBe(1);
        expect(await d.leftovers()).toBe(0);
        release();
        await writing.catch(() => {});
        expect(await after.archives.open("job-3.zip")).toBeNull();
      }),
    );

    test(
      "names that could leave the store are refused",
      withDriver(async (d) => {
        for (const bad of ["../x.zip", "a/b.zip", ".hidden", "x.zip.part", ""]) {
          await expect(d.archives.put(bad, chunks(new Uint8Array(1)))).rejects.toThrow();
          await expect(d.archives.open(bad)).rejects.toThrow();
        }
      }),
    );
  });
}
