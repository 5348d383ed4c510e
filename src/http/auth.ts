import type { MiddlewareHandler } from "hono";
import { AppError } from "../domain/errors.ts";
import { KEY_PREFIX, type Scope } from "../domain/keys.ts";
import type { AppEnv } from "./env.ts";
import { sessionPrincipal, sessionSecretOf } from "./dashboard/session-auth.ts";

const KEY_PARAMS = new Set(["key", "api_key", "apikey", "api-key", "access_token", "token", "auth", "authorization"]);

/**
 * A key in a URL ends up in logs, proxies and browser history: refuse it outright (400), even
 * when a valid header is present, so the mistake is noticed.
 */
export function refuseKeyInQuery(url: string) {
  const params = new URL(url).searchParams;
  for (const [name, value] of params) {
    if (KEY_PARAMS.has(name.toLowerCase()) || value.startsWith(KEY_PREFIX)) {
      throw new AppError("VALIDATION_ERROR", "API keys must be sent in the Authorization header (Bearer), never in the URL", {
        field: name,
      });
    }
  }
}

export function bearer(header: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m ? m[1] : null;
}

/**
 * Authenticates when an Authorization header is present (a bad key is still a 401) and lets
 * the request through without a principal when there is none: routes open to anonymous use.
 */
export function optionalKey(scope?: Scope): MiddlewareHandler<AppEnv> {
  const required = requireKey(scope);
  return async (c, next) => {
    if (c.req.header("authorization") === undefined && !hasSessionCookie(c.req.header("cookie"))) {
      refuseKeyInQuery(c.req.url);
      return next();
    }
    return required(c, next);
  };
}

const hasSessionCookie = (cookie: string | undefined) => sessionSecretOf(cookie) !== null;

/** Requires a valid key (or session); the scope defaults from the method (reads need `read`, the rest `write`). */
export function requireKey(scope?: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    refuseKeyInQuery(c.req.url);
    const secret = bearer(c.req.header("authorization"));
    // No key: the dashboard's session cookie, if any, gives the same kind of principal.
    const principal = secret ? await c.var.services.keys.authenticate(secret) : c.req.header("authorization") === undefined ? await sessionPrincipal(c) : null;
    if (!principal) throw new AppError("UNAUTHORIZED", "Missing API key: send 'Authorization: Bearer <key>'");
    const needed = scope ?? (c.req.method === "GET" || c.req.method === "HEAD" ? "read" : "write");
    if (!principal.scopes.has(needed)) {
      throw new AppError("FORBIDDEN", `This API key lacks the '${needed}' scope`);
    }
    c.set("principal", principal);
    await c.var.services.metering.request(principal, (s) => c.set("rateLimit", s));
    await next();
  };
}
