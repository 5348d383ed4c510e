import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { makeImage } from "../helpers/images.ts";
import { openapiValidator } from "../helpers/openapi.ts";
import { form, REFERENCE, startServer, type TestServer } from "../helpers/server.ts";
import { PLANS, tenant } from "./helpers.ts";

// Usage time series in Imgwire's shapes, Prometheus output (parsed by a real parser) and the
// access log, all after real traffic.

const check = openapiValidator(join(REFERENCE, "imgwire/resource-api.openapi.json"));
const METRICS_PORT = 20_000 + Math.floor(Math.random() * 20_000);
let s: TestServer;
let t: Awaited<ReturnType<typeof tenant>>;
let sizes: number;
beforeAll(async () => {
  s = await startServer({
    env: {
      IMGD_REGISTRATION: "open",
      IMGD_PLANS: PLANS,
      IMGD_ACCESS_LOG: "json",
      IMGD_METRICS_ADDR: `127.0.0.1:${METRICS_PORT}`,
    },
  });
  t = await tenant(s, "pro");
  sizes = 0;
  for (let i = 0; i < 3; i++) {
    const bytes = await makeImage(40 + i, 30, "png");
    sizes += bytes.byteLength;
    expect(
      (
        await s.api("/api/v1/images", {
          method: "POST",
          key: t.key,
          body: form({ file: { bytes, filename: `m${i}.png` } }),
        })
      ).status,
    ).toBe(201);
  }
  // One transformation, then three cache hits of it; one original.
  for (let i = 0; i < 4; i++)
    expect(
      (await fetch(`${s.url}/i/${t.username}/m0.webp?w=20`, { headers: { "x-request-id": `req-${i}` } })).status,
    ).toBe(200);
  expect((await fetch(`${s.url}/i/${t.username}/m1.png`)).status).toBe(200);
});
afterAll(() => s.stop());

const sum = (xs: { [k: string]: any }[], k: string) => xs.reduce((n, x) => n + x[k], 0);

test("metrics datasets and stats: Imgwire's shapes with the real numbers", async () => {
  const ds = await (await s.api("/api/v1/metrics/datasets?interval=HOURLY", { key: t.key })).json();
  check("GET", "/api/v1/metrics/datasets", 200, ds);
  expect([24, 25]).toContain(ds.uploads.length);
  expect(sum(ds.uploads, "uploads")).toBe(3);
  expect(sum(ds.transformations, "transformations")).toBe(1);
  expect(sum(ds.requests, "requests")).toBe(5);
  expect(sum(ds.transfer_bytes, "transfer_bytes")).toBeGreaterThan(0);
  expect(ds.cache_hit_ratio).toEqual([
    { label: "hit", value: 3 },
    { label: "miss", value: 1 },
  ]);
  expect(ds.storage_bytes.at(-1).storage_bytes_current).toBe(sizes);
  expect(sum(ds.storage_bytes, "storage_bytes_added")).toBe(sizes);
  expect(ds.storage_bytes[0].storage_bytes_current).toBe(
    ds.storage_bytes.at(-1).storage_bytes_current - sum(ds.storage_bytes.slice(1), "storage_bytes_added"),
  );

  const daily = await (await s.api("/api/v1/metrics/datasets?interval=DAILY&tz=Europe/Berlin", { key: t.key })).json();
  check("GET", "/api/v1/metrics/datasets", 200, daily);
  expect(sum(daily.uploads, "uploads")).toBe(3);
  expect(daily.uploads.length).toBeGreaterThanOrEqual(30);

  const st = await (await s.api("/api/v1/metrics/stats?interval=DAILY", { key: t.key })).json();
  check("GET", "/api/v1/metrics/stats", 200, st);
  expect(st.uploads).toEqual({ value: 3, prev: 0, pct_change: null });
  expect(st.transformations.value).toBe(1);
  expect(st.requests.value).toBe(5);
  expect(st.cache_hit_ratio.value).toBe(75);
  expect(st.storage_bytes.value).toBe(sizes);

  for (const bad of [
    "interval=YEARLY",
    "tz=Mars/Base",
    "date_start=yesterday",
    "date_start=2026-02-02T00:00:00Z&date_end=2026-02-01T00:00:00Z",
  ]) {
    const r = await s.api(`/api/v1/metrics/stats?${bad}`, { key: t.key });
    expect(r.status).toBe(400);
    expect((await r.json()).error.code).toBe("VALIDATION_ERROR");
  }
  // Another tenant sees only its own (empty) series.
  const other = await tenant(s, "pro");
  const o = await (await s.api("/api/v1/metrics/stats", { key: other.key })).json();
  expect(o.uploads.value).toBe(0);
});

test("Prometheus: admin key (or the metrics listener) only; output parses and has the figures", async () => {
  expect((await s.api("/metrics", { key: null })).status).toBe(401);
  expect((await s.api("/metrics", { key: t.key })).status).toBe(403);
  const r = await s.api("/metrics");
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("text/plain");
  const text = await r.text();
  const families = parsePrometheusTextFormat(text) as any[];
  const fam = (name: string) => {
    const f = families.find((x) => x.name === name);
    if (!f) throw new Error(`no family ${name}`);
    return f;
  };
  const value = (name: string, labels: Record<string, string> = {}) =>
    Number(
      fam(name).metrics.find((m: any) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value ?? NaN,
    );
  expect(fam("imgd_http_requests_total").type).toBe("COUNTER");
  expect(value("imgd_http_requests_total", { group: "delivery", status: "200" })).toBe(5);
  expect(value("imgd_http_requests_total", { group: "native", status: "201" })).toBe(3);
  const hist = fam("imgd_http_request_duration_seconds");
  expect(hist.type).toBe("HISTOGRAM");
  expect(Number(hist.metrics[0].buckets["+Inf"])).toBeGreaterThan(0);
  expect(fam("imgd_transform_duration_seconds").type).toBe("HISTOGRAM");
  // The parser drops a histogram's labels, so the labelled counts are read from the text.
  expect(text).toMatch(/^imgd_http_request_duration_seconds_count\{group="delivery",status="200"\} 5$/m);
  expect(text).toMatch(/^imgd_transform_duration_seconds_count\{format="webp"\} 1$/m);
  expect(value("imgd_deliveries_total", { cache: "hit" })).toBe(3);
  expect(value("imgd_deliveries_total", { cache: "miss" })).toBe(1);
  expect(value("imgd_delivered_bytes_total", { cache: "hit" })).toBeGreaterThan(0);
  expect(value("imgd_variant_cache_bytes")).toBeGreaterThan(0);
  expect(value("imgd_variant_cache_entries")).toBe(1);
  expect(value("imgd_blobs")).toBe(3);
  expect(value("imgd_blob_bytes")).toBe(sizes);
  for (const n of [
    "imgd_queue_depth",
    "imgd_queue_rejections_total",
    "imgd_worker_restarts_total",
    "imgd_variant_cache_evictions_total",
    "imgd_variant_cache_hits_total",
    "imgd_variant_cache_misses_total",
  ]) {
    expect(value(n)).toBeGreaterThanOrEqual(0);
  }
  // The separate listener serves the same without a key, and nothing else.
  const side = await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`);
  expect(side.status).toBe(200);
  expect((parsePrometheusTextFormat(await side.text()) as any[]).some((f) => f.name === "imgd_blobs")).toBe(true);
  expect((await fetch(`http://127.0.0.1:${METRICS_PORT}/api/v1/images`)).status).toBe(404);
});

test("access log: a JSON line per request with request id, tenant, route, status, bytes, duration and cache", async () => {
  const r = await s.api("/api/v1/images", { key: t.key, headers: { "x-request-id": "log-me-1" } });
  expect(r.headers.get("X-Request-Id")).toBe("log-me-1");
  await Bun.sleep(100);
  const lines = s
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
  const api = lines.find((l) => l.request_id === "log-me-1");
  expect(api).toMatchObject({ method: "GET", path: "/api/v1/images", tenant: t.username, status: 200 });
  expect(api.route).toBe("/api/v1/images");
  expect(api.duration_ms).toBeGreaterThan(0);
  const hit = lines.find((l) => l.request_id === "req-3");
  expect(hit).toMatchObject({ status: 200, cache: "hit", tenant: t.username, route: "/i/:username/*" });
  expect(hit.bytes).toBeGreaterThan(0);
  expect(lines.find((l) => l.request_id === "req-0").cache).toBe("miss");
});
