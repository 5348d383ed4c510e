import { type Context, Hono } from "hono";
import { parseCloudflareOptions } from "../domain/delivery/cloudflare.ts";
import {
  compatDelivery,
  compatHotKey,
  type DefaultFormat,
  keepSourceFormat,
  type Mapped,
  mapped,
  put,
} from "../domain/delivery/compat.ts";
import { resolveSource, type SourceRules } from "../domain/delivery/source.ts";
import { type SourceServices, sourceHostsOf } from "./source-hosts.ts";
import { parseIpxModifiers } from "../domain/delivery/ipx.ts";
import type { RequesterServices } from "./requester.ts";
import { askOf, sendDelivered } from "./delivery.ts";
import { MOUNTS, rawPathUnder } from "./mounts.ts";
import { targetOf } from "./target.ts";
import type { AppServices, RouteEnv } from "./env.ts";
import { AppError, invalid } from "../domain/errors.ts";
import { parseCloudinaryPath } from "../domain/delivery/cloudinary.ts";

// The URL shapes other tools write, each a thin parser into the one delivery pipeline:
// IPX `/_ipx/{modifiers}/{source}` (Nuxt Image, unpic), Cloudflare
// `/cdn-cgi/image/{options}/{source}`, Next.js `/_next/image?url={source}&w=&q=`, and img-src's
// host-based `/{username}/{filepath}` on IMGD_CDN_HOST. A source is `{username}/{filepath}`,
// `/i/{username}/{filepath}` (imgd's own URLs, as unpic passes them on) or an absolute URL on
// imgd's own host, read by the one source resolver (domain/delivery/source.ts).

export type CompatEnv = RouteEnv<"delivery" | "accessLog" | "config" | "runtime" | SourceServices | RequesterServices>;
type Env = CompatEnv;

/** Serves a shape's request: its source resolved, its options mapped, through the one delivery pipeline. */
export async function serveMapped(
  c: Context<Env>,
  route: string,
  m: Mapped,
  rawSource: string,
  defaultFormat: DefaultFormat,
  opts: { rules?: SourceRules; presets?: readonly string[]; vouched?: boolean } = {},
) {
  const target = targetOf(c);
  const { username, path } = resolveSource(rawSource, sourceHostsOf(c), opts.rules ?? { option: "path" });
  c.var.services.accessLog.note(c.req.raw, { tenant: username, route });
  const ask = askOf(c, { username, path, search: target.search });
  const query = target.search.size ? `?${target.search}` : "";
  const request = compatDelivery(ask, {
    mapped: m,
    defaultFormat,
    presets: opts.presets,
    vouched: opts.vouched,
    hotKey: compatHotKey(target.pathname + query, m, ask.accept),
  });
  return sendDelivered(c, await c.var.services.delivery.deliver(request));
}

export const ipxRoutes = new Hono<Env>().on(["GET", "HEAD"], "/:modifiers/*", (c) => {
  const [modifiers, ...rest] = rawPathUnder(c, MOUNTS.ipx).split("/");
  return serveMapped(c, "/_ipx/:modifiers/*", parseIpxModifiers(modifiers), rest.join("/"), keepSourceFormat);
});

export const cloudflareRoutes = new Hono<Env>().on(["GET", "HEAD"], "/:options/*", (c) => {
  const [options, ...rest] = rawPathUnder(c, MOUNTS.cloudflare).split("/");
  return serveMapped(c, "/cdn-cgi/image/:options/*", parseCloudflareOptions(options), rest.join("/"), keepSourceFormat);
});

/**
 * Cloudinary's delivery URL (IMGD_CLOUDINARY), `{cloud}` being the tenant: its public id read by
 * the one source resolver as `i/{cloud}/{public id}`. The query (url-gen's `_a`) says nothing
 * about the image.
 */
export const cloudinaryRoutes = new Hono<Env>().on(["GET", "HEAD"], "/:cloud/image/upload/*", (c) => {
  if (!c.var.services.config.cloudinary)
    throw new AppError("NOT_FOUND", "Cloudinary URLs are switched off on this server (IMGD_CLOUDINARY)");
  const [cloud, ...rest] = rawPathUnder(c, "").split("/");
  const url = parseCloudinaryPath(rest.slice(2).join("/"));
  return serveMapped(c, "/:cloud/image/upload/*", url.mapped, `i/${cloud}/${url.publicId}`, keepSourceFormat, {
    rules: { option: "public_id" },
    presets: url.presets,
  });
});

/**
 * Next.js's image optimizer URL: `url` is `/{username}/{filepath}`, `/i/{username}/{filepath}`
 * or an absolute URL of this server; `w` and `q` as next/image writes them. The format is
 * negotiated, as Next's own optimizer does.
 */
export const nextRoutes = new Hono<Env>().on(["GET", "HEAD"], "/", (c) => {
  const q = targetOf(c).search;
  for (const key of new Set(q.keys())) {
    if (!["url", "w", "q"].includes(key)) throw invalid(key, "is not a Next.js image parameter (url, w, q)");
    if (q.getAll(key).length > 1) throw invalid(key, "given more than once");
  }
  const raw = q.get("url");
  const w = q.get("w");
  if (!raw) throw invalid("url", "is required: the image's path, e.g. /admin/photo.jpg");
  if (!w) throw invalid("w", "is required: the width in pixels");
  const m = mapped();
  put(m, "width", w, "w");
  put(m, "quality", q.get("q") ?? "75", "q");
  put(m, "format", "auto", "url");
  // The parameter is decoded once already; the resolver decodes the path once more, so `%` is kept.
  return serveMapped(c, "/_next/image", m, raw.replace(/%/g, "%25"), keepSourceFormat, { rules: { option: "url" } });
});

/**
 * On IMGD_CDN_HOST, `/{username}/{filepath}` is a native delivery URL (img-src's
 * `cdn.img-src.io/{username}/{filepath}`): rewritten to `/i/…` before routing, so the hot path
 * serves it too. Null when the request is not for that host.
 */
export function routeCdnHost(services: Pick<AppServices, "config">, req: Request): Request | null {
  const cdnHost = services.config.cdnHost;
  if (!cdnHost) return null;
  const host = (req.headers.get("host") ?? "").toLowerCase();
  if (host !== cdnHost.toLowerCase() && host.replace(/:\d+$/, "") !== cdnHost.toLowerCase()) return null;
  const url = new URL(req.url);
  if (url.pathname.startsWith("/i/") || url.pathname === "/health") return null;
  // `/` and `/{username}` name no image: left to the ordinary routes.
  if (url.pathname.split("/").length < 3) return null;
  url.pathname = `/i${url.pathname}`;
  return new Request(url, req);
}
