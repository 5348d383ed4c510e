import { Hono } from "hono";
import { AppError } from "../domain/errors.ts";
import { rateLimitHeaders, requireKey } from "./auth.ts";
import { deliveryRoutes } from "./delivery.ts";
import { cloudflareRoutes, cloudinaryRoutes, ipxRoutes, nextRoutes } from "./compat.ts";
import { imgproxyRoutes } from "./imgproxy.ts";
import { thumborRoutes } from "./thumbor.ts";
import type { AppEnv, AppServices } from "./env.ts";
import { nativeErrorResponse, settleBody, toAppError } from "./errors.ts";
import { healthRoutes, readyRoutes } from "./native/health.ts";
import { imageRoutes, pathRoutes } from "./native/images.ts";
import { tusRoutes } from "./native/tus.ts";
import { keyRoutes } from "./native/keys.ts";
import { presetRoutes } from "./native/presets.ts";
import { webhookRoutes } from "./native/webhooks.ts";
import { settingsRoutes } from "./native/settings.ts";
import { usageRoutes } from "./native/usage.ts";
import { adminRoutes } from "./native/admin.ts";
import { imgproApp } from "./imgpro/app.ts";
import { viewerRoutes } from "./viewer.ts";
import { mountImgwire } from "./imgwire/app.ts";
import { assetsrepoApp } from "./assetsrepo/app.ts";
import { metricsRoutes } from "./native/metrics.ts";
import { prometheusRoutes } from "./metrics/prometheus.ts";
import { accountRoutes } from "./dashboard/account.ts";
import { mountDashboard } from "./dashboard/pages.ts";
import { openapiRoutes } from "./openapi/routes.ts";
import { MOUNTS } from "./mounts.ts";
import { requestId } from "./request-id.ts";

export function buildApp(services: AppServices) {
  const app = new Hono<AppEnv>();
  app.use(requestId());
  app.use(async (c, next) => {
    c.set("services", services);
    await next();
    if (services.accessLog.enabled) {
      const route = c.req.matchedRoutes.filter((r) => r.method !== "ALL").at(-1)?.path;
      // Only what this layer knows: a route that noted its tenant (delivery) keeps it.
      const tenant = c.get("principal")?.user.username;
      services.accessLog.note(c.req.raw, { ...(tenant ? { tenant } : {}), ...(route ? { route } : {}) });
    }
  });

  app.use(rateLimitHeaders);

  app.route(MOUNTS.health, healthRoutes);
  app.route(MOUNTS.ready, readyRoutes);
  app.route(MOUNTS.delivery, deliveryRoutes);
  app.route(MOUNTS.ipx, ipxRoutes);
  app.route(MOUNTS.cloudflare, cloudflareRoutes);
  app.route(MOUNTS.next, nextRoutes);
  app.route(MOUNTS.imgproxy, imgproxyRoutes);
  app.route(MOUNTS.thumbor, thumborRoutes);
  app.route("/", cloudinaryRoutes);

  // Before the API's key check: tus discovery (OPTIONS) is open; the rest checks the key itself.
  app.route(`${MOUNTS.api}/uploads/tus`, tusRoutes);
  const api = new Hono<AppEnv>();
  api.use(requireKey());
  api.route("/images/path", pathRoutes);
  api.route("/images", imageRoutes);
  api.route("/settings/api-keys", keyRoutes);
  api.route("/settings/presets", presetRoutes);
  api.route("/settings", settingsRoutes);
  api.route("/usage", usageRoutes);
  api.route("/webhooks", webhookRoutes);
  api.route("/admin/users", adminRoutes);
  api.route("/metrics", metricsRoutes);
  app.route(MOUNTS.api, api);
  app.route(MOUNTS.imgpro, imgproApp(services));
  app.route(MOUNTS.viewer, viewerRoutes);
  mountImgwire(app, services);
  app.route(MOUNTS.assetsrepo, assetsrepoApp(services));
  app.route(MOUNTS.metrics, prometheusRoutes);
  app.route(MOUNTS.auth, accountRoutes);
  app.route("/", openapiRoutes());
  mountDashboard(app);

  app.notFound((c) => nativeErrorResponse(c, new AppError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`)));
  app.onError(async (err, c) => {
    const e = toAppError(err, services.log);
    c.header("X-Request-Id", c.var.requestId);
    await settleBody(c);
    return nativeErrorResponse(c, e);
  });
  return app;
}
