import type { MiddlewareHandler } from "hono";
import type { Bindings } from "./target.ts";

/** The client's request id (at most 128 characters), or a new one. */
export function requestIdOf(header: string | null | undefined): string {
  return header?.slice(0, 128) || crypto.randomUUID();
}

/**
 * The request's id on the context and the answer: the one the front router settled on, so the
 * hot path, the routes and every dialect's errors carry the same. Set on the response itself:
 * c.header() here would make Hono rebuild the response around a stream, and a file body would
 * lose its Content-Length and sendfile.
 */
export function requestId(): MiddlewareHandler<{ Variables: { requestId: string }; Bindings: Bindings }> {
  return async (c, next) => {
    c.set("requestId", c.env?.requestId ?? requestIdOf(c.req.header("x-request-id")));
    await next();
    if (!c.res.headers.has("X-Request-Id")) c.res.headers.set("X-Request-Id", c.var.requestId);
  };
}
