import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CodecPool } from "../../codecs/pool.ts";
import type { VariantIndex } from "../store/variant-index.ts";

// Prometheus metrics of one imgd instance. Each instance has its own registry (no global
// state), so embedders and tests can run several side by side. Figures that other parts keep
// already (pool, variant cache, blob table) are read at scrape time rather than counted twice.

/** Sets a counter to a total kept elsewhere (prom-client counters only go up by increments). */
function mirror(counter: Counter, value: number) {
  counter.reset();
  counter.inc(value);
}

export class Telemetry {
  readonly registry = new Registry();
  readonly #requests: Counter<"group" | "status">;
  readonly #duration: Histogram<"group" | "status">;
  readonly #transform: Histogram<"format">;
  readonly #delivered: Counter<"cache">;
  readonly #deliveredBytes: Counter<"cache">;

  constructor(d: {
    pool: CodecPool;
    variants: VariantIndex;
    blobTotals: () => Promise<{ count: number; bytes: number }>;
  }) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: "imgd_http_requests_total",
      help: "HTTP requests answered, by route group and status",
      labelNames: ["group", "status"],
      registers,
    });
    this.#duration = new Histogram({
      name: "imgd_http_request_duration_seconds",
      help: "Time to the response headers, by route group and status",
      labelNames: ["group", "status"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#transform = new Histogram({
      name: "imgd_transform_duration_seconds",
      help: "Time of one transform (queue wait included), by output format",
      labelNames: ["format"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.#delivered = new Counter({
      name: "imgd_deliveries_total",
      help: "Images delivered, by cache outcome (hit: a cached variant; miss: transformed now; original: the upload itself)",
      labelNames: ["cache"],
      registers,
    });
    this.#deliveredBytes = new Counter({
      name: "imgd_delivered_bytes_total",
      help: "Bytes of delivered images, by cache outcome",
      labelNames: ["cache"],
      registers,
    });

    new Gauge({
      name: "imgd_queue_depth",
      help: "Transform jobs waiting for a worker",
      registers,
      collect() {
        this.set(d.pool.stats().queued);
      },
    });
    new Gauge({
      name: "imgd_workers_busy",
      help: "Workers running a job",
      registers,
      collect() {
        this.set(d.pool.stats().busy);
      },
    });
    new Counter({
      name: "imgd_queue_rejections_total",
      help: "Transform jobs refused without running (queue full, too large, closed)",
      registers,
      collect() {
        mirror(this, d.pool.stats().rejected);
      },
    });
    new Counter({
      name: "imgd_worker_restarts_total",
      help: "Workers replaced after a crash or a timeout",
      registers,
      collect() {
        mirror(this, d.pool.stats().restarts);
      },
    });
    new Counter({
      name: "imgd_variant_cache_hits_total",
      help: "Variant cache lookups that found the variant on disk",
      registers,
      collect() {
        mirror(this, d.variants.stats().hits);
      },
    });
    new Counter({
      name: "imgd_variant_cache_misses_total",
      help: "Variant cache lookups that did not",
      registers,
      collect() {
        mirror(this, d.variants.stats().misses);
      },
    });
    new Counter({
      name: "imgd_variant_cache_evictions_total",
      help: "Variants evicted to stay under the size cap",
      registers,
      collect() {
        mirror(this, d.variants.stats().evictions);
      },
    });
    new Gauge({
      name: "imgd_variant_cache_bytes",
      help: "Bytes of cached variants",
      registers,
      collect() {
        this.set(d.variants.stats().bytes);
      },
    });
    new Gauge({
      name: "imgd_variant_cache_entries",
      help: "Cached variants",
      registers,
      collect() {
        this.set(d.variants.stats().entries);
      },
    });
    // Collected concurrently by the registry, so each asks for itself.
    new Gauge({
      name: "imgd_blobs",
      help: "Blobs (distinct uploaded files) stored",
      registers,
      async collect() {
        this.set((await d.blobTotals()).count);
      },
    });
    new Gauge({
      name: "imgd_blob_bytes",
      help: "Bytes of stored blobs",
      registers,
      async collect() {
        this.set((await d.blobTotals()).bytes);
      },
    });
  }

  /** Label children, kept: looking them up by a labels object on every request costs more than the count. */
  readonly #perRoute = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();

  request(group: string, status: number, seconds: number) {
    const key = `${group} ${status}`;
    let m = this.#perRoute.get(key);
    if (!m) {
      const labels = { group, status: String(status) };
      m = { count: this.#requests.labels(labels), time: this.#duration.labels(labels) };
      this.#perRoute.set(key, m);
    }
    m.count.inc();
    m.time.observe(seconds);
  }

  delivered(cache: "hit" | "miss" | "original", bytes: number) {
    this.#delivered.inc({ cache });
    this.#deliveredBytes.inc({ cache }, bytes);
  }

  transformed(format: string, seconds: number) {
    this.#transform.observe({ format }, seconds);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
