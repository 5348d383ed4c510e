// A codec worker: one wasm-vips instance, one job at a time. Spawned by CodecPool with
// `new Worker(url, { type: "module" })`; speaks the messages of protocol.ts.

import { prepare, type ForeignDecoders } from "./decoders/index.ts";
import { loadHeifDecoder, type HeifDecoder } from "./decoders/heic.ts";
import { inspect, restrictLoaders, transform, type Codecs } from "./pipeline.ts";
import type { Reply, Request, WorkerMemory } from "./protocol.ts";
import { CodecError } from "./types.ts";
import { heifDecoderWasm, loadVips, loadWebpEncoder, type Vips } from "./wasm.ts";

interface WorkerScope {
  postMessage(message: Reply, transfer?: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent<Request>) => void): void;
  close(): void;
}
const scope = globalThis as unknown as WorkerScope;

/** libvips throws `{ message: ["vips::Error", text] }`; anything else is a wasm or JS fault. */
function vipsErrorText(e: unknown): string | null {
  const m = (e as { message?: unknown } | null)?.message;
  if (Array.isArray(m) && m[0] === "vips::Error") return String(m[1] ?? "").trim();
  return null;
}

function memoryOf(vips: Vips): WorkerMemory {
  return { vipsBytes: vips.Stats.mem(), vipsAllocations: vips.Stats.allocations() };
}

function exitNow(): void {
  const proc = (globalThis as { process?: { exit(code: number): never } }).process;
  if (proc) proc.exit(1);
  scope.close();
}

/** libheif, instantiated on the first HEIC this worker sees. */
function foreignDecoders(): ForeignDecoders {
  let heif: Promise<HeifDecoder> | null = null;
  return { heif: () => (heif ??= loadHeifDecoder(heifDecoderWasm())) };
}

async function run(codecs: Codecs, decoders: ForeignDecoders, req: Request): Promise<Reply> {
  const vips = codecs.vips;
  try {
    if (req.kind === "transform" || req.kind === "inspect") {
      // The format comes with the job: probed once, by the pool or by the upload's receive.
      const source = await prepare(req.format, req.bytes, decoders, req.limits.maxSourcePixels);
      const value =
        req.kind === "transform"
          ? transform(codecs, source, req.spec, req.limits, req.effort, req.input)
          : inspect(vips, source, req.limits);
      return { type: "done", id: req.id, ok: true, value, memory: memoryOf(vips) };
    }
    exitNow();
    throw new Error("unreachable");
  } catch (e) {
    if (e instanceof CodecError) {
      return {
        type: "done",
        id: req.id,
        ok: false,
        code: e.code,
        message: e.message,
        fatal: false,
        memory: memoryOf(vips),
      };
    }
    const text = vipsErrorText(e);
    if (text !== null) {
      // libvips refused the input; its state is intact.
      const first = text.split("\n").filter(Boolean).slice(-1)[0] ?? "cannot decode image";
      return {
        type: "done",
        id: req.id,
        ok: false,
        code: "invalid_image",
        message: first,
        fatal: false,
        memory: memoryOf(vips),
      };
    }
    // A wasm trap or abort (out of memory, `unreachable`): the instance is unusable.
    return {
      type: "done",
      id: req.id,
      ok: false,
      code: "worker_crashed",
      message: String((e as Error)?.message ?? e),
      fatal: true,
    };
  }
}

/**
 * A fresh wasm instance runs its first job ~300–400 ms slower while the JIT compiles the hot
 * functions (decode, resize, encode). One small synthetic job through the same paths before
 * the worker reports ready moves that cost into start-up.
 */
function warmUp(codecs: Codecs): void {
  const { vips } = codecs;
  const noise = vips.Image.gaussnoise(WARM_SIZE, (WARM_SIZE * 3) >> 2, { mean: 128, sigma: 40 });
  const rgb = noise.bandjoin([noise, noise]);
  const img = rgb.cast("uchar");
  const jpeg = img.writeToBuffer(".jpg", { Q: 85 });
  for (const i of [noise, rgb, img]) i.delete();
  for (const format of ["webp", "jpeg"] as const) {
    transform(
      codecs,
      { format: "jpeg", bytes: jpeg },
      {
        width: WARM_SIZE >> 2,
        fit: "inside",
        enlarge: false,
        gravity: "centre",
        format,
        quality: 80,
        keepMetadata: false,
      },
    );
  }
}
/** Width of the warm-up JPEG (512×384): ~0.5 s per worker, in parallel (measured, 2 cores). */
const WARM_SIZE = 512;

try {
  const [vips, webp] = await Promise.all([loadVips(), loadWebpEncoder()]);
  const codecs: Codecs = { vips, webp };
  // One libvips thread per worker: the pool provides the parallelism, one job per core.
  vips.concurrency(1);
  // The operation cache would keep source buffers and decoded images alive between jobs.
  vips.Cache.max(0);
  restrictLoaders(vips);
  warmUp(codecs);
  const decoders = foreignDecoders();
  // One job at a time (the pool sends the next only after a reply), so awaiting inside is safe.
  scope.addEventListener("message", async (event) => {
    const reply = await run(codecs, decoders, event.data);
    const transfer =
      reply.type === "done" && reply.ok
        ? [reply.value as { data?: Uint8Array }].flatMap((v) => (v.data ? [v.data.buffer as ArrayBuffer] : []))
        : [];
    scope.postMessage(reply, transfer);
  });
  scope.postMessage({ type: "ready" });
} catch (e) {
  // Emscripten's file-system errors are plain objects ({ name: "ErrnoError", v: errno }).
  const message = e instanceof Error ? e.message : typeof e === "object" && e ? JSON.stringify(e) : String(e);
  scope.postMessage({ type: "init-failed", message });
}
