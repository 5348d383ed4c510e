import { Hono, type MiddlewareHandler } from "hono";
import { rateLimitHeaders } from "../auth.ts";
import { AppError } from "../../domain/errors.ts";
import type { AppEnv, AppServices } from "../env.ts";
import { settleBody, toAppError } from "../errors.ts";
import { corsRoutes, domainRoutes, environmentRoutes, keyRoutes } from "./account.ts";
import { cdnRoutes, uploadRoutes, zipRoutes } from "./cdn.ts";
import { clientMayUse, type ImgwireEnv, imgwireAuth } from "./context.ts";
import { imgwireErrorResponse } from "./errors.ts";
import { requestId } from "../request-id.ts";
import { imageRoutes } from "./images.ts";
import { metricsRoutes } from "./metrics.ts";

const PREFLIGHT_HEADERS = "Authorization, Content-Type, X-Environment-Id";

/**
 * The Imgwire dialect under its mount (default /imgwire): the resource API at /api/v1 with the
 * document's exact paths (trailing slashes included), the CDN, upload and download URLs.
 */
export function imgwireApp(services: AppServices) {
  // Not strict: the document's list routes end in '/', and both spellings should work.
  const app = new Hono<ImgwireEnv>({ strict: false }).basePath(services.config.imgwireMount);
  app.use(requestId() as unknown as MiddlewareHandler<ImgwireEnv>);
  app.use(async (c, next) => {
    c.set("services", services);
    await next();
  });
  app.use(rateLimitHeaders as unknown as MiddlewareHandler<ImgwireEnv>);
  // CORS: only what a client key may do is ever granted, and only to the origins of the
  // environment (checked per request, where the key is known; a preflight has no key, so it is
  // granted to an origin some environment lets in); server routes grant nothing.
  app.use(async (c, next) => {
    const origin = c.req.header("origin");
    if (c.req.method === "OPTIONS") {
      const headers = new Headers({ Vary: "Origin" });
      const path = c.req.path;
      const wantedMethod = c.req.header("access-control-request-method") ?? "";
      const upload = /\/uploads\/([0-9a-f-]{36})$/i.exec(path);
      let grant = false;
      if (origin && upload && wantedMethod === "PUT") {
        const owner = await services.imgwire.uploads.ownerOf(upload[1].toLowerCase());
        grant = owner !== undefined && (await services.imgwire.origins.originAllowed(owner, origin));
      } else if (origin && clientMayUse(wantedMethod, path)) {
        grant = await services.imgwire.origins.anyAllows(origin);
      }
      if (grant) {
        headers.set("Access-Control-Allow-Origin", origin!);
        headers.set("Access-Control-Allow-Methods", upload ? "PUT" : "GET, POST");
        headers.set("Access-Control-Allow-Headers", upload ? "Content-Type" : PREFLIGHT_HEADERS);
        headers.set("Access-Control-Max-Age", "600");
      }
      return new Response(null, { status: 204, headers });
    }
    await next();
    if (origin === undefined) return;
    const h = c.res.headers;
    const vary = h.get("Vary");
    if (!vary?.split(",").some((x) => x.trim().toLowerCase() === "origin"))
      h.set("Vary", vary ? `${vary}, Origin` : "Origin");
    if (c.get("isClient") && c.res.status !== 403 && c.res.status !== 401) {
      h.set("Access-Control-Allow-Origin", origin);
      h.set("Access-Control-Expose-Headers", "X-Total-Count, X-Page, X-Limit, X-Prev-Page, X-Next-Page");
    }
  });

  const api = new Hono<ImgwireEnv>();
  api.use(imgwireAuth());
  for (const [path, routes] of [
    ["/images", imageRoutes],
    ["/api_keys", keyRoutes],
    ["/environments", environmentRoutes],
    ["/cors_origins", corsRoutes],
    ["/custom_domain", domainRoutes],
    ["/metrics", metricsRoutes],
  ] as const) {
    api.route(path, routes as Hono<ImgwireEnv>);
  }
  app.route("/api/v1", api);
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.route("/cdn", cdnRoutes);
  app.route("/uploads", uploadRoutes);
  app.route("/downloads", zipRoutes);
  app.all("*", (c) => {
    throw new AppError("NOT_FOUND", "Not Found");
  });
  app.onError(async (err, c) => {
    const e = toAppError(err, services.log);
    await settleBody(c);
    return imgwireErrorResponse(c, e, { plain400: c.req.path.includes("/cdn/") });
  });
  return app;
}

/** Hands every request under the mount to the Imgwire app (its own router, errors and CORS). */
export function mountImgwire(parent: Hono<AppEnv>, services: AppServices) {
  const iw = imgwireApp(services);
  const mount = services.config.imgwireMount;
  const handler = (c: { req: { raw: Request }; env: AppEnv["Bindings"] }) => iw.fetch(c.req.raw, c.env);
  parent.all(mount, handler);
  parent.all(`${mount}/*`, handler);
}
