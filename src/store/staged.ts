import type { StagedBlob } from "./types.ts";

/** What a driver does with its staged bytes; where they live stays private to it. */
export interface StagedOps {
  read(): Promise<Uint8Array>;
  /** Puts the bytes under their hash (unless there already), keeping the staged copy. */
  place(): Promise<void>;
  /** Puts them there again if they went missing since `place`, then drops the staged copy. */
  settle(): Promise<void>;
  discard(): Promise<void>;
}

/** A staged blob's handle: commits once, reads only while staged, discards at most once. */
export class StagedHandle implements StagedBlob {
  readonly #ops: StagedOps;
  #state: "staged" | "placed" | "committed" | "discarded" = "staged";

  constructor(
    readonly hash: string,
    readonly size: number,
    readonly head: Uint8Array,
    readonly tail: Uint8Array,
    ops: StagedOps,
  ) {
    this.#ops = ops;
  }

  read() {
    if (this.#state !== "staged" && this.#state !== "placed")
      return Promise.reject(new Error(`staged blob ${this.hash} was ${this.#state}`));
    return this.#ops.read();
  }

  async place() {
    if (this.#state !== "staged") throw new Error(`staged blob ${this.hash} was ${this.#state}`);
    await this.#ops.place();
    this.#state = "placed";
  }

  async commit() {
    if (this.#state === "staged") await this.place();
    if (this.#state !== "placed") throw new Error(`staged blob ${this.hash} was ${this.#state}`);
    await this.#ops.settle();
    this.#state = "committed";
  }

  async discard() {
    if (this.#state !== "staged" && this.#state !== "placed") return;
    this.#state = "discarded";
    await this.#ops.discard();
  }
}
