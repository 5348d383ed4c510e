import { createHash } from "node:crypto";
import { BlobTooLargeError } from "./types.ts";

const HEAD_BYTES = 1 << 20;
const TAIL_BYTES = 8 << 10;

/**
 * What every blob driver learns while bytes stream in: the size (refusing past the limit),
 * the SHA-256, the first MiB for sniffing and the last 8 KiB for the truncation check.
 */
export class StageMeter {
  #hasher = createHash("sha256");
  #head = new Uint8Array(HEAD_BYTES);
  #headLen = 0;
  #tail: Uint8Array = new Uint8Array(0);
  size = 0;

  constructor(private readonly maxBytes: number) {}

  /** Counts a chunk; throws BlobTooLargeError once the total passes the limit. */
  add(chunk: Uint8Array) {
    this.size += chunk.byteLength;
    if (this.size > this.maxBytes) throw new BlobTooLargeError(this.maxBytes);
    this.#hasher.update(chunk);
    if (this.#headLen < HEAD_BYTES) {
      const n = Math.min(HEAD_BYTES - this.#headLen, chunk.byteLength);
      this.#head.set(chunk.subarray(0, n), this.#headLen);
      this.#headLen += n;
    }
    this.#tail = lastBytes(this.#tail, chunk, TAIL_BYTES);
  }

  finish() {
    return {
      hash: this.#hasher.digest("hex"),
      size: this.size,
      head: this.#head.slice(0, this.#headLen),
      tail: this.#tail,
    };
  }
}

function lastBytes(prev: Uint8Array, chunk: Uint8Array, n: number): Uint8Array {
  if (chunk.byteLength >= n) return chunk.slice(chunk.byteLength - n);
  const keep = Math.min(prev.byteLength, n - chunk.byteLength);
  const out = new Uint8Array(keep + chunk.byteLength);
  out.set(prev.subarray(prev.byteLength - keep), 0);
  out.set(chunk, keep);
  return out;
}
