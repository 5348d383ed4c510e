import { AppError } from "../domain/errors.ts";
import type { buildApp } from "./app.ts";
import { routeCdnHost } from "./compat.ts";
import { answerHot, readNativeUrl } from "./delivery.ts";
import type { AppServices } from "./env.ts";
import { nativeError, toAppError } from "./errors.ts";
import { customDomainRouter } from "./imgwire/domains.ts";
import { routeGroup } from "./mounts.ts";
import { requestIdOf } from "./request-id.ts";
import { withSafetyHeaders } from "./safety-headers.ts";
import { readTarget } from "./target.ts";

// In front of the router, in this order: the base path (IMGD_BASE_PATH) comes off, a connected
// custom domain becomes its owner's Imgwire CDN, IMGD_CDN_HOST's paths become native `/i/` URLs,
// the URL is read (once: the routes reuse what is read here), and a URL answered moments ago is
// served from the hot path without routing. Every answer gets the safety headers; routed ones
// are counted and logged.

type Front = (req: Request, env?: { remoteAddress?: string }) => Promise<Response>;

export function frontRouter(services: AppServices, app: ReturnType<typeof buildApp>): Front {
  const { config } = services;
  const routeCustomDomain = customDomainRouter(services);
  return async (req, env) => {
    const started = performance.now();
    const remoteAddress = env?.remoteAddress ?? "";
    if (config.basePath) {
      const stripped = stripBasePath(req, config.basePath);
      if (!stripped) {
        const err = new AppError("NOT_FOUND", `imgd is served under ${config.basePath}`);
        return withSafetyHeaders(nativeError(err, readTarget(req.url).pathname));
      }
      req = stripped;
    }
    let routed: Request | Response | null;
    try {
      // A connected Imgwire custom domain is that tenant's CDN, whatever the path.
      routed = await routeCustomDomain(req);
    } catch (err) {
      return withSafetyHeaders(nativeError(toAppError(err, services.log), readTarget(req.url).pathname));
    }
    if (routed instanceof Response) return withSafetyHeaders(routed);
    // img-src's host-based CDN path becomes a native `/i/` URL (the hot path serves it too).
    req = routed ?? routeCdnHost(services, req) ?? req;
    const target = readTarget(req.url);
    const requestId = requestIdOf(req.headers.get("x-request-id"));
    const native =
      !routed && (req.method === "GET" || req.method === "HEAD")
        ? readNativeUrl(target, req.headers.get("accept"))
        : null;
    const hot = native ? services.delivery.fast(native.hotKey, req.headers.get("if-none-match")) : undefined;
    const res = withSafetyHeaders(
      (hot && native && answerHot(services, req, native, requestId, hot)) ||
        (await app.fetch(req, { remoteAddress, target, requestId, native, hot })),
    );
    services.telemetry.request(
      routeGroup(target.pathname, config.imgwireMount),
      res.status,
      (performance.now() - started) / 1000,
    );
    services.accessLog.record(req, target, res, started, remoteAddress);
    return res;
  };
}

/** The request as imgd's routes expect it: without the prefix it is mounted under. */
function stripBasePath(req: Request, basePath: string): Request | null {
  const url = new URL(req.url);
  if (url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) return null;
  url.pathname = url.pathname.slice(basePath.length) || "/";
  return new Request(url, req);
}
