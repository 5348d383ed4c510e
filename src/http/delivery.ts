import { type Context, Hono } from "hono";
import type { Delivered } from "../delivery/deliver.ts";
import { AppError } from "../domain/errors.ts";
import type { AppEnv } from "./env.ts";

const IMMUTABLE = "public, max-age=31536000, immutable";

export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const tag = t.trim().replace(/^W\//, "");
    return tag === etag || tag === "*";
  });
}

/** The path after a fixed number of URL segments, percent-decoded (a bad escape is a 404). */
export function pathAfter(c: Context, segments: number): string {
  const raw = new URL(c.req.url).pathname.split("/").slice(segments + 1).join("/");
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new AppError("NOT_FOUND", "Image not found");
  }
}

/** Builds the response of a delivery: headers first, so a 304 carries them too. */
export function sendDelivered(c: Context<AppEnv>, d: Delivered | "not-modified", etagOf?: string): Response {
  const headers = new Headers({ "Cache-Control": IMMUTABLE, "X-Request-Id": c.var.requestId });
  if (d === "not-modified") {
    if (etagOf) headers.set("ETag", etagOf);
    return new Response(null, { status: 304, headers });
  }
  headers.set("ETag", d.etag);
  if (d.privateUntil !== undefined) {
    headers.set("Cache-Control", `private, max-age=${Math.max(0, Math.floor((d.privateUntil - c.var.services.config.now()) / 1000))}`);
  }
  headers.set("Content-Type", d.mime);
  headers.set("Content-Length", String(d.size));
  headers.set("X-Cache", d.cache === "hit" ? "HIT" : d.cache === "miss" ? "MISS" : "ORIGINAL");
  c.var.services.usage.addLater(d.userId, "bandwidth_bytes", d.size);
  // A Response built here (not through c.body) lets the runtime send a file with sendfile
  // and its real Content-Length.
  const body = c.req.method === "HEAD" ? null : (d.bytes ?? c.var.services.runtime.fileBody(d.file!));
  return new Response(body as BodyInit | null, { status: 200, headers });
}

/** `GET /i/{username}/{path}` with the native URL options. */
export const deliveryRoutes = new Hono<AppEnv>().on(["GET", "HEAD"], "/:username/*", async (c) => {
  const inm = c.req.header("if-none-match");
  let matched: string | undefined;
  const result = await c.var.services.delivery.native(c.req.param("username"), pathAfter(c, 2), new URL(c.req.url).searchParams, (etag) => {
    matched = etag;
    return matchesEtag(inm, etag);
  });
  return sendDelivered(c, result, matched);
});
