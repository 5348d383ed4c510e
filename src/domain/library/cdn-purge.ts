import type { Outgoing } from "../fetcher/fetcher.ts";

// Telling a CDN in front of imgd to drop an image's URLs (IMGD_PURGE). Building the requests is
// pure (tested without any network); sending them goes through the SSRF-safe fetcher, so a
// hook URL on a private address needs IMGD_PURGE_ALLOW_NETWORKS like any other fetch would.

export type PurgeShape = "url" | "cloudflare" | "bunny" | "fastly";

export interface CdnPurgeSettings {
  /** Which API: a URL template of the operator's, or a built-in CDN's. */
  shape: PurgeShape;
  /** `url`: the template. `{url}` in it makes one request per URL (percent-encoded in its place). */
  url?: string;
  /** `url`: the body template; `{urls}` becomes a JSON array of the URLs, `{url}` one as a JSON string. */
  body?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** The API token (Cloudflare, Fastly, Bunny), or a Bearer token for `url`. */
  token?: string;
  /** Cloudflare's zone id. */
  zone?: string;
}

export interface PurgeRequest extends Outgoing {
  url: string;
  /** Purge APIs take JSON or nothing. */
  body?: string;
}

/** Cloudflare takes at most 30 URLs per purge call on every plan. */
const CLOUDFLARE_BATCH = 30;
const DEFAULT_BODY = '{"urls":{urls}}';
const json = { "Content-Type": "application/json" };

/** Checks the settings once, at start: a purge that could only fail is a configuration error. */
export function checkPurgeSettings(s: CdnPurgeSettings): void {
  if (s.shape === "url" && !s.url) throw new Error("IMGD_PURGE=url needs IMGD_PURGE_URL");
  if (s.shape === "cloudflare" && !(s.zone && s.token))
    throw new Error("IMGD_PURGE=cloudflare needs IMGD_PURGE_ZONE and IMGD_PURGE_TOKEN");
  if ((s.shape === "bunny" || s.shape === "fastly") && !s.token)
    throw new Error(`IMGD_PURGE=${s.shape} needs IMGD_PURGE_TOKEN`);
}

/** The requests that purge these URLs (absolute, deduplicated by the caller). */
export function purgeRequests(s: CdnPurgeSettings, urls: string[]): PurgeRequest[] {
  if (urls.length === 0) return [];
  const extra = s.headers ?? {};
  switch (s.shape) {
    case "cloudflare": {
      const out: PurgeRequest[] = [];
      for (let i = 0; i < urls.length; i += CLOUDFLARE_BATCH) {
        out.push({
          method: "POST",
          url: `https://api.cloudflare.com/client/v4/zones/${encodeURIComponent(s.zone!)}/purge_cache`,
          headers: { ...json, Authorization: `Bearer ${s.token}`, ...extra },
          body: JSON.stringify({ files: urls.slice(i, i + CLOUDFLARE_BATCH) }),
        });
      }
      return out;
    }
    case "bunny":
      // Bunny's purge API: one URL per call, its key in `AccessKey`.
      return urls.map((u) => ({
        method: "POST",
        url: `https://api.bunny.net/purge?url=${encodeURIComponent(u)}`,
        headers: { AccessKey: s.token!, ...extra },
      }));
    case "fastly":
      // Fastly's "purge a URL": the cached URL without its scheme, after /purge/.
      return urls.map((u) => ({
        method: "POST",
        url: `https://api.fastly.com/purge/${u.replace(/^https?:\/\//, "")}`,
        headers: { "Fastly-Key": s.token!, Accept: "application/json", ...extra },
      }));
    case "url": {
      const template = s.url!;
      const auth: Record<string, string> = s.token ? { Authorization: `Bearer ${s.token}` } : {};
      const headers = { ...json, ...auth, ...extra };
      const bodyOf = (list: string[]) =>
        (s.body ?? DEFAULT_BODY)
          .replaceAll("{urls}", JSON.stringify(list))
          .replaceAll("{url}", JSON.stringify(list[0]));
      if (template.includes("{url}")) {
        return urls.map((u) => ({
          method: "POST",
          url: template.replaceAll("{url}", encodeURIComponent(u)),
          headers,
          body: bodyOf([u]),
        }));
      }
      return [{ method: "POST", url: template, headers, body: bodyOf(urls) }];
    }
  }
}

/** What the CDN answered: how many requests were sent and which failed (and why). */
export interface CdnPurgeResult {
  requests: number;
  failed: { url: string; error: string }[];
}

export type Send = (url: string, req: Outgoing) => Promise<{ status: number; body: string }>;

export class CdnPurge {
  constructor(
    private readonly settings: CdnPurgeSettings,
    private readonly send: Send,
  ) {
    checkPurgeSettings(settings);
  }

  async purge(urls: string[]): Promise<CdnPurgeResult> {
    const requests = purgeRequests(this.settings, [...new Set(urls)]);
    const failed: CdnPurgeResult["failed"] = [];
    for (const { url, ...req } of requests) {
      try {
        const res = await this.send(url, req);
        if (res.status < 200 || res.status > 299)
          failed.push({ url: redact(url), error: `HTTP ${res.status}: ${res.body.slice(0, 200)}` });
      } catch (err) {
        failed.push({ url: redact(url), error: (err as Error).message });
      }
    }
    return { requests: requests.length, failed };
  }
}

/** A hook URL as reported: its query may hold a secret. */
const redact = (u: string) => u.replace(/\?.*$/, "?…");
