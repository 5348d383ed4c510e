import { UsageError } from "./args.ts";
import { formatBytes } from "./client.ts";

// How the bulk commands (upload, import) show where they are: a bar redrawn on stderr when it
// is a terminal, one plain line per file otherwise (logs and pipes keep every line).

export class Progress {
  readonly tty = process.stderr.isTTY === true;
  readonly #started = performance.now();
  #done = 0;
  #bytes = 0;

  constructor(
    private total: number,
    private totalBytes: number | null,
  ) {}

  /** One file finished: `line` is printed when not on a terminal, else the bar moves. */
  step(bytes: number, line: string) {
    this.#done++;
    this.#bytes += bytes;
    if (this.tty) this.#bar();
    else console.error(line);
  }

  /** Ends the bar's line (a terminal) so what follows starts on its own. */
  end() {
    if (this.tty) process.stderr.write("\n");
  }

  get seconds() {
    return (performance.now() - this.#started) / 1000;
  }

  get bytes() {
    return this.#bytes;
  }

  #bar() {
    const width = 30;
    const filled = Math.round((this.#done / Math.max(this.total, 1)) * width);
    const of = this.totalBytes === null ? "" : `/${formatBytes(this.totalBytes)}`;
    process.stderr.write(
      `\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${this.#done}/${this.total} files  ${formatBytes(this.#bytes)}${of}  ${formatBytes(this.#bytes / Math.max(this.seconds, 0.001))}/s `,
    );
  }
}

/** Runs `fn` over `items`, `concurrency` at a time, in order of the list. */
export async function eachConcurrently<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** `--concurrency`: a whole number 1–32, 4 when not given. */
export function concurrencyOf(flag: string | boolean | undefined): number {
  const n = flag === undefined ? 4 : Number(flag);
  if (!Number.isInteger(n) || n < 1 || n > 32) throw new UsageError("--concurrency takes a whole number from 1 to 32");
  return n;
}
