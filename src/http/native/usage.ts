import { Hono } from "hono";
import { periodBounds, periodOf, planOf } from "../../domain/usage.ts";
import type { AppEnv } from "../env.ts";
import { unix } from "./shape.ts";

export const usageRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const { usage, config } = c.var.services;
  const { user } = c.var.principal;
  const period = periodOf(config.now());
  const { start, end } = periodBounds(period);
  const [month, storage] = await Promise.all([usage.month(user.id, period), usage.storage(user.id)]);
  const plan = planOf(user.plan);
  return c.json({
    plan: user.plan,
    plan_name: plan.name,
    plan_status: "active",
    subscription_ends_at: null,
    plan_limits: {
      max_uploads_per_month: plan.uploadsPerMonth,
      max_storage_bytes: plan.storageBytes,
      max_bandwidth_per_month: plan.bandwidthPerMonth,
      max_api_requests_per_month: plan.apiRequestsPerMonth,
      max_transformations_per_month: plan.transformationsPerMonth,
    },
    total_images: storage.images,
    storage_used_bytes: storage.bytes,
    storage_used_mb: Math.round((storage.bytes / 1024 ** 2) * 100) / 100,
    storage_used_gb: Math.round((storage.bytes / 1024 ** 3) * 1000) / 1000,
    current_period: {
      period,
      period_start: unix(start),
      period_end: unix(end),
      uploads: month.uploads,
      bandwidth_bytes: month.bandwidth_bytes,
      api_requests: month.api_requests,
      transformations: month.transformations,
    },
    credits: { storage_bytes: 0, api_requests: 0, transformations: 0 },
  });
});
