// Closed-loop HTTP load on loopback: `concurrency` clients, each sending its next request when
// the last has ended. Bounded by a request count (cold transforms) or by time (cache hits).

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  bytes: number;
}

export interface LoadOptions {
  concurrency: number;
  /** Stop after this many requests in total… */
  requests?: number;
  /** …or after this many seconds. */
  seconds?: number;
  /** Checks a response; false counts as an error. */
  check?: (status: number, body: ArrayBuffer) => boolean;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** `url(i)` gives the URL of the i-th request, so every request can ask for something new. */
export async function load(url: (i: number) => string, o: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  let next = 0;
  const t0 = performance.now();
  const end = o.seconds !== undefined ? t0 + o.seconds * 1000 : Infinity;
  const limit = o.requests ?? Infinity;
  const check = o.check ?? ((status) => status === 200);
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (next < limit && performance.now() < end) {
        const i = next++;
        const t = performance.now();
        try {
          const res = await fetch(url(i));
          const body = await res.arrayBuffer();
          if (!check(res.status, body)) errors++;
          bytes += body.byteLength;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    errors,
    bytes,
  };
}

/** wrk (Debian package `wrk`) where installed: a C load generator leaves more CPU to the servers. */
export async function wrk(url: string, seconds: number, concurrency: number): Promise<LoadResult | null> {
  const exe = Bun.which("wrk");
  if (!exe) return null;
  const proc = Bun.spawn([exe, "-t1", `-c${concurrency}`, `-d${seconds}s`, "--latency", url], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const ms = (s: string | undefined) => {
    const m = s ? /([\d.]+)(us|ms|s)/.exec(s) : null;
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((n, x) => n + Number(x), 0) : 0);
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out);
  void transfer;
  if (!Number.isFinite(rps)) throw new Error(`wrk output not understood:\n${out}`);
  return {
    requests,
    seconds,
    rps,
    p50: ms(/50%\s+(\S+)/.exec(out)?.[1]),
    p99: ms(/99%\s+(\S+)/.exec(out)?.[1]),
    errors,
    bytes: 0,
  };
}
