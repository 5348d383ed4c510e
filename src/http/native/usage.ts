import { Hono } from "hono";
import { periodBounds } from "../../domain/usage.ts";
import type { RouteEnv } from "../env.ts";
import { unix } from "./shape.ts";

/** The services these routes use. */
type Env = RouteEnv<"metering">;

export const usageRoutes = new Hono<Env>().get("/", async (c) => {
  const { metering } = c.var.services;
  const { user } = c.var.principal;
  const s = await metering.status(user);
  const { start, end } = periodBounds(s.period);
  const l = s.limits;
  return c.json({
    plan: user.plan,
    plan_name: l.name,
    plan_status: "active",
    subscription_ends_at: null,
    plan_limits: {
      max_uploads_per_month: l.uploadsPerMonth,
      max_storage_bytes: l.storageBytes,
      max_bandwidth_per_month: l.bandwidthPerMonth,
      max_api_requests_per_month: l.apiRequestsPerMonth,
      max_transformations_per_month: l.transformationsPerMonth,
    },
    // What the plan includes (private_images, signed_urls, presets, assetsrepo): imgd's own field.
    plan_features: l.features,
    // imgd's own limits, beside the reference's shape rather than inside it.
    other_limits: {
      max_views_per_month: l.viewsPerMonth,
      max_requests_per_minute: l.requestsPerMinute,
      max_upload_bytes: l.maxUploadBytes,
    },
    total_images: s.images,
    storage_used_bytes: s.storageUsed,
    storage_used_mb: Math.round((s.storageUsed / 1024 ** 2) * 100) / 100,
    storage_used_gb: Math.round((s.storageUsed / 1024 ** 3) * 1000) / 1000,
    current_period: {
      period: s.period,
      period_start: unix(start),
      period_end: unix(end),
      uploads: s.month.uploads,
      bandwidth_bytes: s.month.bandwidth_bytes,
      api_requests: s.month.api_requests,
      transformations: s.month.transformations,
      views: s.month.views,
    },
    credits: { storage_bytes: 0, api_requests: 0, transformations: 0 },
  });
});
