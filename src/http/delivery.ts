import { type Context, Hono } from "hono";
import type { DeliveryAsk, DeliveryResult } from "../domain/delivery/request.ts";
import { imgixDelivery, isImgixQuery } from "../domain/delivery/imgix.ts";
import { type NativeUrl, nativeDelivery, nativeUrl, placeholderDelivery } from "../domain/delivery/native.ts";
import { AppError } from "../domain/errors.ts";
import { checkImgixSignature } from "../domain/delivery/shape-signatures.ts";
import type { StoredObject } from "../store/types.ts";
import type { AppServices, RouteEnv } from "./env.ts";
import { MOUNTS } from "./mounts.ts";
import { type RequesterServices, requesterOf } from "./requester.ts";
import { type Target, targetOf } from "./target.ts";

const IMMUTABLE = "public, max-age=31536000, immutable";

/** What every dialect's parser starts from: the URL's tenant, path and query, and the request's headers and caller. */
export function askOf<E extends RouteEnv<RequesterServices>>(
  c: Context<E>,
  url: Pick<DeliveryAsk, "username" | "path" | "search"> &
    Partial<Pick<DeliveryAsk, "hotKey" | "hotLooked" | "varies">>,
): DeliveryAsk {
  return {
    ...url,
    url: pathAndQuery(c.req.url),
    accept: c.req.header("accept"),
    ifNoneMatch: c.req.header("if-none-match"),
    requester: requesterOf(c),
  };
}

/** A request URL's path and query: the base path is gone already (the front router took it). */
const pathAndQuery = (raw: string) => {
  const u = new URL(raw);
  return u.pathname + u.search;
};

/**
 * Builds the response of a delivery: headers first, so a 304 carries them too. A stored object
 * in a remote store is opened before anything is sent: a store that does not answer is a 503,
 * never a 200 with an empty body.
 */
export async function sendDelivered<E extends RouteEnv<"config" | "runtime">>(
  c: Context<E>,
  result: DeliveryResult,
): Promise<Response> {
  return respond(c.var.services, c.req.method, c.var.requestId, result);
}

/** Remote bodies up to this size are read whole before the answer starts: sent with their Content-Length, they cannot fail halfway. */
const BUFFERED_BYTES = 8 << 20;

function respond(
  services: Pick<AppServices, "config" | "runtime">,
  method: string,
  requestId: string,
  { delivered: d, etag, varyAccept }: DeliveryResult,
): Response | Promise<Response> {
  const headers = new Headers({ "Cache-Control": IMMUTABLE, "X-Request-Id": requestId, ETag: etag });
  // Only answers that depend on Accept say so: a CDN in front keeps one copy of the others.
  if (varyAccept) headers.set("Vary", "Accept");
  if (d === "not-modified") return new Response(null, { status: 304, headers });
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
 * A `/i/{username}/{path}` URL's parts, percent-decoded, with its key among remembered answers;
 * null when it is no such URL or a part is not valid percent-encoding.
 */
export function readNativeUrl(target: Target, accept: string | null | undefined): NativeUrl | null {
  const prefix = `${MOUNTS.delivery}/`;
  if (!target.pathname.startsWith(prefix)) return null;
  const rest = target.pathname.slice(prefix.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return null;
  try {
    const username = decodeURIComponent(rest.slice(0, slash));
    return nativeUrl(username, decodeURIComponent(rest.slice(slash + 1)), target.search, accept);
  } catch {
    return null;
  }
}

/**
 * A remembered answer (`Delivery.fast`) sent before routing, without touching the router or
 * the database; null when it must go the routed way: a remote object is opened first, which
 * may fail, and the route answers that.
 */
export function answerHot(
  services: Pick<AppServices, "config" | "runtime" | "accessLog">,
  req: Request,
  url: NativeUrl,
  requestId: string,
  hot: DeliveryResult,
): Response | null {
  const d = hot.delivered;
  if (d !== "not-modified" && req.method !== "HEAD" && !d.bytes && d.object?.open) return null;
  services.accessLog.note(req, { tenant: url.username, route: "/i/:username/*" });
  return respond(services, req.method, requestId, hot) as Response;
}

/** `GET /i/{username}/{path}` with the native URL options (imgix's too, and `?placeholder`). */
export const deliveryRoutes = new Hono<
  RouteEnv<"delivery" | "accessLog" | "config" | "runtime" | RequesterServices>
>().on(["GET", "HEAD"], "/:username/*", async (c) => {
  // Read (and looked up on the hot path) by the front router already, unless the request came another way.
  const url = c.env.native ?? readNativeUrl(targetOf(c), c.req.header("accept"));
  if (!url) throw new AppError("NOT_FOUND", "Image not found");
  c.var.services.accessLog.note(c.req.raw, { tenant: url.username, route: "/i/:username/*" });
  if (c.env.hot) return sendDelivered(c, c.env.hot);
  const ask = askOf(c, { ...url, hotLooked: Boolean(c.env.native) });
  const { delivery } = c.var.services;
  if (url.search.has("placeholder")) return sendDelivered(c, await delivery.placeholder(placeholderDelivery(ask)));
  const imgix = isImgixQuery(url.search);
  const token = c.var.services.config.imgixToken;
  if (imgix && token) {
    const raw = c.req.url.slice(c.req.url.indexOf("/", c.req.url.indexOf("//") + 2)).split("#")[0]!;
    const q = raw.indexOf("?");
    checkImgixSignature(token, raw.slice(0, q < 0 ? raw.length : q), q < 0 ? "" : raw.slice(q + 1));
  }
  const result = imgix
    ? await delivery.deliver(imgixDelivery(ask, true, Boolean(token)))
    : await delivery.deliver(nativeDelivery(ask, { access: "signed", remember: true }));
  return sendDelivered(c, result);
});
