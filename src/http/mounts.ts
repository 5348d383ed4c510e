import type { Context } from "hono";
import { AppError } from "../domain/errors.ts";
import { targetOf } from "./target.ts";

// Where each dialect is mounted: the one table routes, path readers, telemetry groups and the
// custom-domain router read prefixes from (Imgwire's mount is a setting, IMGD_IMGWIRE_MOUNT).

export const MOUNTS = {
  delivery: "/i",
  ipx: "/_ipx",
  cloudflare: "/cdn-cgi/image",
  next: "/_next/image",
  imgproxy: "/imgproxy",
  thumbor: "/thumbor",
  api: "/api/v1",
  imgpro: "/v1",
  assetsrepo: "/api/images",
  viewer: "/p",
  metrics: "/metrics",
  auth: "/auth",
  health: "/health",
  ready: "/ready",
} as const;

/** The still percent-encoded path after `prefix` and `params` more segments (such as the tenant). */
export function rawPathUnder(c: Context, prefix: string, params = 0): string {
  const skip = prefix.split("/").length + params;
  return targetOf(c).pathname.split("/").slice(skip).join("/");
}

/** The path after `prefix` and `params` more segments, percent-decoded (a bad escape is a 404). */
export function pathUnder(c: Context, prefix: string, params = 0): string {
  try {
    return decodeURIComponent(rawPathUnder(c, prefix, params));
  } catch {
    throw new AppError("NOT_FOUND", "Image not found");
  }
}

/** Which group a request's path belongs to, for the request metrics. */
export function routeGroup(pathname: string, imgwireMount: string): string {
  if (pathname.startsWith(`${MOUNTS.delivery}/`)) return "delivery";
  if (pathname.startsWith(`${MOUNTS.assetsrepo}/`)) return "assetsrepo";
  if (pathname.startsWith(`${MOUNTS.api}/`)) return "native";
  if (pathname.startsWith(`${MOUNTS.imgpro}/`)) return "imgpro";
  if (pathname.startsWith(`${imgwireMount}/`)) return "imgwire";
  if (pathname === MOUNTS.metrics) return "metrics";
  if (pathname.startsWith(MOUNTS.health) || pathname === MOUNTS.ready) return "health";
  if (pathname.startsWith(`${MOUNTS.viewer}/`)) return "viewer";
  return "other";
}
