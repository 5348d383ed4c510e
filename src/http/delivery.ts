import { type Context, Hono } from "hono";
import type { Delivered, DeliveryRequest } from "../domain/delivery/deliver.ts";
import { imgixDelivery, isImgixQuery } from "../domain/delivery/imgix.ts";
import { nativeDelivery, nativeHotKey, nativeNegotiates, placeholderDelivery } from "../domain/delivery/native.ts";
import { AppError } from "../domain/errors.ts";
import type { StoredObject } from "../store/types.ts";
import type { AppServices, RouteEnv } from "./env.ts";
import { type RequesterServices, requesterOf } from "./requester.ts";

const IMMUTABLE = "public, max-age=31536000, immutable";

export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const tag = t.trim().replace(/^W\//, "");
    return tag === etag || tag === "*";
  });
}

/**
 * A delivery's If-None-Match check. It remembers the ETag it compared, because the 304 (or the
 * answer) carries the ETag the delivery settled on.
 */
export function etagCheck(header: string | null | undefined) {
  const check = {
    matched: undefined as string | undefined,
    matches: (etag: string) => {
      check.matched = etag;
      return matchesEtag(header ?? undefined, etag);
    },
  };
  return check;
}

/** The path after a fixed number of URL segments, percent-decoded (a bad escape is a 404). */
export function pathAfter(c: Context, segments: number): string {
  const raw = new URL(c.req.url).pathname
    .split("/")
    .slice(segments + 1)
    .join("/");
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new AppError("NOT_FOUND", "Image not found");
  }
}

/**
 * Builds the response of a delivery: headers first, so a 304 carries them too. A stored object
 * in a remote store is opened before anything is sent: a store that does not answer is a 503,
 * never a 200 with an empty body.
 */
export async function sendDelivered<E extends RouteEnv<"config" | "runtime">>(
  c: Context<E>,
  d: Delivered | "not-modified",
  etagOf?: string,
  request?: Pick<DeliveryRequest, "varies" | "negotiated">,
): Promise<Response> {
  const res = await respond(c.var.services, c.req.method, c.var.requestId, d, etagOf);
  // Only answers that depend on Accept say so: a CDN in front keeps one copy of the others.
  if (request?.varies || request?.negotiated) res.headers.set("Vary", "Accept");
  return res;
}

/** Remote bodies up to this size are read whole before the answer starts: sent with their Content-Length, they cannot fail halfway. */
const BUFFERED_BYTES = 8 << 20;

function respond(
  services: Pick<AppServices, "config" | "runtime">,
  method: string,
  requestId: string,
  d: Delivered | "not-modified",
  etagOf?: string,
): Response | Promise<Response> {
  const headers = new Headers({ "Cache-Control": IMMUTABLE, "X-Request-Id": requestId });
  if (d === "not-modified") {
    if (etagOf) headers.set("ETag", etagOf);
    return new Response(null, { status: 304, headers });
  }
  headers.set("ETag", d.etag);
  if (d.privateUntil !== undefined) {
    headers.set(
      "Cache-Control",
      `private, max-age=${Math.max(0, Math.floor((d.privateUntil - services.config.now()) / 1000))}`,
    );
  }
  headers.set("Content-Type", d.mime);
  headers.set("Content-Length", String(d.size));
  headers.set("X-Cache", d.cache === "hit" ? "HIT" : d.cache === "miss" ? "MISS" : "ORIGINAL");
  // A Response built here (not through c.body) lets the runtime send a stored file with
  // sendfile and its real Content-Length.
  if (method === "HEAD" || d.bytes || !d.object?.open) {
    const body = method === "HEAD" ? null : (d.bytes ?? d.object!.body());
    return new Response(body as BodyInit | null, { status: 200, headers });
  }
  return openedBody(d.object, services.runtime.name).then((body) => new Response(body, { status: 200, headers }));
}

/**
 * A stored object's body for a response whose status is not sent yet: a remote source is
 * opened (and, up to 8 MiB, read whole) first, so a store that does not answer is a 503 rather
 * than a 200 with an empty or short body. Local objects are sent as they are.
 */
export async function openedBody(object: StoredObject, runtime: "bun" | "deno"): Promise<BodyInit> {
  if (!object.open) return object.body();
  const body = await object.open();
  if (!(body instanceof ReadableStream)) return body;
  if (object.size > BUFFERED_BYTES) return cutOnFailure(body, runtime);
  // A body cut short (or too long) is an error, never a success: retried like an outage.
  return new Response(body).bytes().catch(() => {
    throw new AppError("SERVICE_UNAVAILABLE", "The storage did not send the whole file; retry shortly", {
      retryAfter: 2,
    });
  });
}

/**
 * A body whose source may fail halfway: the client must see a cut connection, never an end.
 * Deno does that when the stream errors (it sent a Content-Length). Bun sends such a body
 * chunked and, on an error, ends it like a complete one; so there the stream is left open and
 * the server's idle timeout closes the connection without the final chunk.
 */
function cutOnFailure(source: ReadableStream<Uint8Array>, runtime: "bun" | "deno"): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (err) {
        if (runtime === "deno") controller.error(err);
        else await new Promise(() => {});
        return;
      }
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/**
 * Cached-variant requests answered before routing: a URL seen moments ago is served from
 * memory and disk without touching the router or the database. Anything else returns null
 * and goes the ordinary way.
 */
export function deliverFast(
  services: Pick<AppServices, "config" | "runtime" | "delivery" | "accessLog">,
  req: Request,
): Response | null {
  if (req.method !== "GET" && req.method !== "HEAD") return null;
  const url = req.url;
  const start = url.indexOf("/i/", url.indexOf("//") + 2);
  if (start < 0 || url.indexOf("/", url.indexOf("//") + 2) !== start) return null;
  const q = url.indexOf("?", start);
  const pathname = q < 0 ? url.slice(start + 3) : url.slice(start + 3, q);
  const slash = pathname.indexOf("/");
  if (slash <= 0) return null;
  let username: string;
  let path: string;
  try {
    username = decodeURIComponent(pathname.slice(0, slash));
    path = decodeURIComponent(pathname.slice(slash + 1));
  } catch {
    return null;
  }
  const inm = etagCheck(req.headers.get("if-none-match"));
  const search = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
  const varies = nativeNegotiates(path, search);
  const hot = services.delivery.fast(
    nativeHotKey(username, path, search, varies ? req.headers.get("accept") : null, varies),
    inm.matches,
  );
  // A remote object is opened before answering, which may fail: the routed way answers that.
  if (!hot || (hot !== "not-modified" && req.method !== "HEAD" && !hot.bytes && hot.object?.open)) return null;
  const requestId = req.headers.get("x-request-id")?.slice(0, 128) || crypto.randomUUID();
  services.accessLog.note(req, { tenant: username, route: "/i/:username/*" });
  const res = respond(services, req.method, requestId, hot, inm.matched) as Response;
  if (varies) res.headers.set("Vary", "Accept");
  return res;
}

/** `GET /i/{username}/{path}` with the native URL options. */
export const deliveryRoutes = new Hono<
  RouteEnv<"delivery" | "accessLog" | "config" | "runtime" | RequesterServices>
>().on(["GET", "HEAD"], "/:username/*", async (c) => {
  const inm = etagCheck(c.req.header("if-none-match"));
  c.var.services.accessLog.note(c.req.raw, { tenant: c.req.param("username"), route: "/i/:username/*" });
  const ifNoneMatch = inm.matches;
  const username = c.req.param("username");
  const path = pathAfter(c, 2);
  const search = new URL(c.req.url).searchParams;
  const accept = c.req.header("accept");
  const { delivery } = c.var.services;
  const requester = requesterOf(c);
  if (search.has("placeholder")) {
    return sendDelivered(
      c,
      await delivery.placeholder(placeholderDelivery(username, path, search, ifNoneMatch, requester)),
      inm.matched,
    );
  }
  if (isImgixQuery(search)) {
    const request = imgixDelivery(username, path, search, accept, ifNoneMatch, true, requester);
    return sendDelivered(c, await delivery.deliver(request), inm.matched, request);
  }
  const request = nativeDelivery(username, path, search, ifNoneMatch, {
    access: "signed",
    remember: true,
    accept,
    requester,
  });
  return sendDelivered(c, await delivery.deliver(request), inm.matched, request);
});
