import { PAGES } from "../dashboard/pages.ts";
import type { AppServices } from "../env.ts";
import { MOUNTS } from "../mounts.ts";

// A connected custom domain is its owner's Imgwire CDN and nothing else: a request on it is
// rewritten to /imgwire/cdn/<owner>/<path>, except for the first path segments imgd's own
// routes use (the API, sign-in, health, the dashboard, the other delivery shapes, whose paths
// name other tenants), which answer 404 there. A name imgd answers as itself is never routed,
// whatever the database says.

/** First path segments that are imgd's own routes on every host. */
function reservedRoots(imgwireMount: string): Set<string> {
  return new Set([
    "",
    ".well-known",
    ...Object.values(MOUNTS).map((m) => m.split("/")[1]),
    "openapi.json",
    "api-reference",
    "llms.txt",
    "docs",
    "assets",
    ...PAGES,
    imgwireMount.split("/")[1] ?? "",
  ]);
}

const notHere = () =>
  new Response(
    JSON.stringify({
      detail:
        "Not found: this host is a custom delivery domain and serves only its owner's images; the API and the dashboard are on imgd's own address",
    }),
    { status: 404, headers: { "content-type": "application/json" } },
  );

/**
 * Before routing: on a connected domain's host every GET of a non-reserved path is that
 * tenant's CDN. Returns the rewritten request, a response, or null (not a custom domain).
 */
export function customDomainRouter(services: Pick<AppServices, "imgwire" | "config" | "ownHosts">) {
  const reserved = reservedRoots(services.config.imgwireMount);
  return async (req: Request): Promise<Request | Response | null> => {
    const host = req.headers.get("host") ?? new URL(req.url).host;
    if (!host || services.ownHosts.isOwn(host) || /^[\d.]+(:\d+)?$/.test(host) || host.startsWith("[")) return null;
    const found = await services.imgwire.hosts.lookup(host);
    if (!found?.connected) return null;
    const url = new URL(req.url);
    if (reserved.has((url.pathname.split("/")[1] ?? "").toLowerCase())) return notHere();
    if (req.method !== "GET" && req.method !== "HEAD")
      return new Response(JSON.stringify({ detail: "Method not allowed" }), {
        status: 405,
        headers: { "content-type": "application/json" },
      });
    url.pathname = `${services.config.imgwireMount}/cdn/${encodeURIComponent(found.user.username)}${url.pathname}`;
    return new Request(url, req);
  };
}
