import type { StagedBlob } from "./types.ts";

/** What a driver does with its staged bytes; where they live stays private to it. */
export interface StagedOps {
  read(): Promise<Uint8Array>;
  commit(): Promise<void>;
  discard(): Promise<void>;
}

/** A staged blob's handle: commits once, reads only while staged, discards at most once. */
export class StagedHandle implements StagedBlob {
  readonly #ops: StagedOps;
  #state: "staged" | "committed" | "discarded" = "staged";

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
    if (this.#state !== "staged") return Promise.reject(new Error(`staged blob ${this.hash} was ${this.#state}`));
    return this.#ops.read();
  }

  async commit() {
    if (this.#state !== "staged") throw new Error(`staged blob ${this.hash} was ${this.#state}`);
    await this.#ops.commit();
    this.#state = "committed";
  }

  async discard() {
    if (this.#state !== "staged") return;
    this.#state = "discarded";
    await this.#ops.discard();
  }
}
