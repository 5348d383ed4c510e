import type { Context } from "hono";
import type { NativeUrl } from "../domain/delivery/native.ts";
import type { DeliveryResult } from "../domain/delivery/request.ts";

// A request's URL, read once: the front router reads it (for the hot path and the metrics) and
// hands it to the routes, which read their paths and queries from it rather than again.

export interface Target {
  /** The path as sent, still percent-encoded. */
  pathname: string;
  search: URLSearchParams;
  /** The query as sent, with its `?` (empty without one): what the access log writes. */
  query: string;
}

/** What the front router hands a route besides the request (Hono's bindings). */
export interface Bindings {
  remoteAddress: string;
  target?: Target;
  /** The request's id, taken or made once. */
  requestId?: string;
  /** A `/i/` URL as the hot path read it (and looked up): its parts and hot key, for the routed way. */
  native?: NativeUrl | null;
  /** The hot path's answer for it, when one must be sent the routed way (a remote object). */
  hot?: DeliveryResult;
}

/** The path and query of an absolute URL, without a full URL parse (this runs on every request). */
export function readTarget(url: string): Target {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return { pathname: "/", search: new URLSearchParams(), query: "" };
  const hash = url.indexOf("#", start);
  const end = hash < 0 ? url.length : hash;
  const q = url.indexOf("?", start);
  if (q < 0 || q > end) return { pathname: url.slice(start, end), search: new URLSearchParams(), query: "" };
  const query = end > q + 1 ? url.slice(q, end) : "";
  return { pathname: url.slice(start, q), search: new URLSearchParams(query), query };
}

/** The request's target as the front router read it (read here only for a request that came another way). */
export function targetOf(c: Context): Target {
  const env = c.env as Partial<Bindings> | undefined;
  if (!env?.target) {
    const target = readTarget(c.req.url);
    if (env) env.target = target;
    return target;
  }
  return env.target;
}
