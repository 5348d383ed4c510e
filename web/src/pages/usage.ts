import { useState } from "preact/hooks";
import { get } from "../api.ts";
import { t } from "../i18n.ts";
import { bytes, ErrorNote, html, Loading, Page, useLoad } from "../ui.ts";

// Usage over time from /api/v1/metrics/datasets (the same series Imgwire's API gives), and
// this month against the plan's limits from /api/v1/usage.

const INTERVALS = ["HOURLY", "DAILY", "WEEKLY", "MONTHLY"] as const;

interface Point {
  label: string;
  value: number;
}

function labelOf(ts: string, interval: string): string {
  const d = new Date(ts);
  if (interval === "HOURLY") return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (interval === "MONTHLY") return d.toLocaleDateString([], { year: "numeric", month: "short" });
  return d.toLocaleDateString([], { month: "short", day: "numeric" });
}

/** A bar chart in SVG; the numbers are also in a table for screen readers (and tests). */
function Chart({ id, title, points, format }: { id: string; title: string; points: Point[]; format: (n: number) => string }) {
  const max = Math.max(1, ...points.map((p) => p.value));
  const total = points.reduce((s, p) => s + p.value, 0);
  const W = 600;
  const H = 160;
  const bw = W / Math.max(1, points.length);
  return html`<figure class="chart" data-chart=${id}>
    <figcaption><strong>${title}</strong> <span class="muted">${t("usage.total", { v: format(total) })}</span></figcaption>
    <svg viewBox=${`0 0 ${W} ${H + 20}`} role="img" aria-labelledby=${`${id}-desc`} preserveAspectRatio="none">
      <desc id=${`${id}-desc`}>${title}: ${format(total)}</desc>
      <line x1="0" y1=${H} x2=${W} y2=${H} class="axis" />
      ${points.map((p, i) => {
        const h = (p.value / max) * (H - 10);
        return html`<rect x=${i * bw + bw * 0.15} y=${H - h} width=${Math.max(1, bw * 0.7)} height=${h} data-value=${p.value} data-label=${p.label}><title>${p.label}: ${format(p.value)}</title></rect>`;
      })}
    </svg>
    <table class="visually-hidden"><caption>${title}</caption><tbody>${points.map((p) => html`<tr><th scope="row">${p.label}</th><td>${format(p.value)}</td></tr>`)}</tbody></table>
  </figure>`;
}

function Meter({ label, used, limit, format }: { label: string; used: number; limit: number | null; format: (n: number) => string }) {
  const pct = limit ? Math.min(100, Math.round((used / limit) * 100)) : 0;
  const warn = limit !== null && limit > 0 && used / limit >= 0.8;
  return html`<div class=${`meter${warn ? " warn" : ""}`}>
    <div class="row between"><span>${label}</span><span>${format(used)} / ${limit === null ? t("usage.unlimited") : format(limit)}</span></div>
    ${limit !== null && html`<progress max="100" value=${pct} aria-label=${`${label}: ${pct}%`}></progress>`}
    ${warn && html`<p class="warn-text" role="status">${pct >= 100 ? t("usage.reached", { label }) : t("usage.warn", { label, pct })}</p>`}
  </div>`;
}

export function UsagePage() {
  const [interval, setInterval] = useState<string>("DAILY");
  const datasets = useLoad(() => get(`/api/v1/metrics/datasets?interval=${interval}&tz=${encodeURIComponent(Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC")}`), [interval]);
  const usage = useLoad(() => get("/api/v1/usage"), []);
  const num = (n: number) => n.toLocaleString();
  const d = datasets.data;
  const series = (rows: any[] | undefined, field: string): Point[] => (rows ?? []).map((r) => ({ label: labelOf(r.timestamp, interval), value: Number(r[field]) || 0 }));
  const u = usage.data;
  return html`<${Page} title=${t("usage.title")}>
    <${ErrorNote} error=${datasets.error || usage.error} />
    ${u &&
    html`<section class="card" aria-labelledby="plan-title">
      <h2 id="plan-title">${t("usage.plan", { plan: u.plan_name ?? u.plan })}</h2>
      <div class="meters">
        <${Meter} label=${t("usage.uploads")} used=${u.current_period.uploads} limit=${u.plan_limits.max_uploads_per_month} format=${num} />
        <${Meter} label=${t("usage.storage")} used=${u.storage_used_bytes} limit=${u.plan_limits.max_storage_bytes} format=${bytes} />
        <${Meter} label=${t("usage.transformations")} used=${u.current_period.transformations} limit=${u.plan_limits.max_transformations_per_month} format=${num} />
        <${Meter} label=${t("usage.requests")} used=${u.current_period.api_requests} limit=${u.plan_limits.max_api_requests_per_month} format=${num} />
        <${Meter} label=${t("usage.bandwidth")} used=${u.current_period.bandwidth_bytes} limit=${u.plan_limits.max_bandwidth_per_month} format=${bytes} />
        <${Meter} label=${t("usage.views")} used=${u.current_period.views} limit=${u.other_limits.max_views_per_month} format=${num} />
      </div>
    </section>`}
    <div class="row wrap" role="group" aria-labelledby="interval-label">
      <span id="interval-label">${t("usage.interval")}</span>
      ${INTERVALS.map((i) => html`<button type="button" class=${interval === i ? "primary" : ""} aria-pressed=${interval === i} onClick=${() => setInterval(i)}>${t(`usage.i.${i}` as any)}</button>`)}
    </div>
    ${!d
      ? html`<${Loading} />`
      : html`<div class="charts">
          <${Chart} id="uploads" title=${t("usage.uploads")} points=${series(d.uploads, "uploads")} format=${num} />
          <${Chart} id="transformations" title=${t("usage.transformations")} points=${series(d.transformations, "transformations")} format=${num} />
          <${Chart} id="requests" title=${t("usage.deliveries")} points=${series(d.requests, "requests")} format=${num} />
          <${Chart} id="transfer" title=${t("usage.bandwidth")} points=${series(d.transfer_bytes, "transfer_bytes")} format=${bytes} />
          <${Chart} id="storage" title=${t("usage.storageAdded")} points=${series(d.storage_bytes, "storage_bytes_added")} format=${bytes} />
        </div>`}
  <//>`;
}
