import { type ConfigInput, resolveConfig } from "./config.ts";
import { buildApp } from "./http/app.ts";
import { routeCdnHost } from "./http/compat.ts";
import { deliverFast } from "./http/delivery.ts";
import { customDomainRouter } from "./http/imgwire/domains.ts";
import { withSafetyHeaders } from "./http/safety-headers.ts";
import { routeGroup } from "./observability/telemetry.ts";
import { detectRuntime } from "./runtime/index.ts";
import { type AppServices, appServices, buildServices, type RunOptions } from "./services.ts";

export type { ConfigInput } from "./config.ts";

export interface Imgd {
  /** A web-standard handler: mount it in any server that speaks Request/Response. */
  fetch: (req: Request, env?: { remoteAddress?: string }) => Promise<Response>;
  close: () => Promise<void>;
  /** Creates the admin user if needed and a new admin API key; returns the key (shown once). */
  createAdminKey: (name?: string) => Promise<string>;
  /** The use cases of this instance (no database or stores: those stay behind them). */
  services: AppServices;
}

/** The request as imgd's routes expect it: without the prefix it is mounted under. */
function stripBasePath(req: Request, basePath: string): Request | null {
  const url = new URL(req.url);
  if (url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) return null;
  url.pathname = url.pathname.slice(basePath.length) || "/";
  return new Request(url, req);
}

/** The path of an absolute URL without parsing it all (this runs on every request). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

/** Builds one isolated imgd: its own database, blob store and worker pool. Nothing is global. */
export async function createImgd(
  input: ConfigInput = {},
  options: { log?: (line: string) => void } & RunOptions = {},
): Promise<Imgd> {
  const config = resolveConfig(input);
  const runtime = await detectRuntime();
  const log = options.log ?? ((line: string) => console.error(line));
  const services = await buildServices(config, runtime, log, options);
  // Routes see the use cases only: no database, stores or workers.
  const visible = appServices(services);
  const app = buildApp(visible);
  const routeCustomDomain = customDomainRouter(visible);
  let closed = false;
  return {
    services: visible,
    fetch: async (req, env) => {
      const started = performance.now();
      if (config.basePath) {
        const stripped = stripBasePath(req, config.basePath);
        if (!stripped)
          return new Response(
            JSON.stringify({
              error: {
                code: "NOT_FOUND",
                message: `imgd is served under ${config.basePath}`,
                status: 404,
                path: new URL(req.url).pathname,
              },
            }),
            { status: 404, headers: { "content-type": "application/json" } },
          );
        req = stripped;
      }
      // A connected Imgwire custom domain is that tenant's CDN, whatever the path.
      const routed = await routeCustomDomain(req);
      if (routed instanceof Response) return withSafetyHeaders(routed);
      if (routed) req = routed;
      // img-src's host-based CDN path becomes a native `/i/` URL (the hot path serves it too).
      else req = routeCdnHost(visible, req) ?? req;
      const res = withSafetyHeaders(
        (!routed && deliverFast(visible, req)) || (await app.fetch(req, { remoteAddress: env?.remoteAddress ?? "" })),
      );
      services.telemetry.request(routeGroup(pathOf(req.url)), res.status, (performance.now() - started) / 1000);
      services.accessLog.record(req, res, started, env?.remoteAddress ?? "");
      return res;
    },
    async createAdminKey(name = "embedded") {
      const { user } = await services.users.ensureAdmin(config.adminUsername);
      return (await services.keys.create(user.id, { name })).secret;
    },
    async close() {
      if (closed) return;
      closed = true;
      await services.sweeper.stop();
      await services.placeholders.stop();
      await services.facts.stop();
      await services.usage.close();
      await services.presets.close();
      await services.pool.close();
      await services.bus.close();
      await services.db.destroy();
    },
  };
}
