import type { Context, MiddlewareHandler } from "hono";
import { type IdentifyOptions, SessionEndedError, scopeOf } from "../domain/auth/auth.ts";
import { AppError } from "../domain/errors.ts";
import { KEY_PREFIX, type Principal, type Scope } from "../domain/accounts/keys.ts";
import type { SessionPrincipal } from "../domain/accounts/sessions.ts";
import type { RouteEnv } from "./env.ts";
import { checkCsrf, clearSessionCookie, sessionSecretOf } from "./session.ts";

export { bearer } from "../domain/auth/auth.ts";

const KEY_PARAMS = new Set(["key", "api_key", "apikey", "api-key", "access_token", "token", "auth", "authorization"]);

/**
 * A key in a URL ends up in logs, proxies and browser history: refuse it outright (400), even
 * when a valid header is present, so the mistake is noticed.
 */
export function refuseKeyInQuery(url: string) {
  const params = new URL(url).searchParams;
  for (const [name, value] of params) {
    if (KEY_PARAMS.has(name.toLowerCase()) || value.startsWith(KEY_PREFIX)) {
      throw new AppError(
        "VALIDATION_ERROR",
        "API keys must be sent in the Authorization header (Bearer), never in the URL",
        {
          field: name,
        },
      );
    }
  }
}

export interface AdmitOptions extends Omit<IdentifyOptions, "sessionSecret"> {
  /** The scope this request needs (default: from the method). */
  scope?: Scope;
  /** The dialect's own rules for this key, after the scope and before metering: throw to refuse. */
  authorize?: (principal: Principal) => void | Promise<void>;
}

/**
 * The one admission step (authenticate, scope, dialect rules, meter) for a request of any
 * dialect: leaves the principal and the key's rate window on the context.
 */
export async function admit<E extends RouteEnv<"auth">>(ctx: Context<E>, opts: AdmitOptions): Promise<Principal> {
  const c = ctx as unknown as Context<RouteEnv<"auth">>;
  const { auth } = c.var.services;
  const authorization = c.req.header("authorization");
  // No key: the dashboard's session cookie, if any (the same principal, checked for CSRF).
  const sessionSecret = authorization === undefined ? sessionSecretOf(c.req.header("cookie")) : null;
  let principal: Principal;
  try {
    principal = await auth.identify(authorization, { ...opts, sessionSecret });
  } catch (err) {
    if (sessionSecret && err instanceof SessionEndedError) clearSessionCookie(c, auth.site);
    throw err;
  }
  // Without a key header, the principal is the cookie's session.
  if (sessionSecret) checkCsrf(c, auth.site, principal as SessionPrincipal);
  auth.requireScope(principal, opts.scope ?? scopeOf(c.req.method));
  c.set("principal", principal);
  await opts.authorize?.(principal);
  const { rate, refusal } = await auth.meter(principal);
  if (rate) c.set("rateLimit", rate);
  if (refusal) throw refusal;
  return principal;
}

/** X-RateLimit-* from the key's window, on every answer of a metered request (refusals too). */
export const rateLimitHeaders: MiddlewareHandler<RouteEnv<never>> = async (c, next) => {
  await next();
  const rate = c.get("rateLimit");
  if (!rate) return;
  // Set on the response itself: c.header() here would make Hono rebuild the response around
  // a stream, and a file body would lose its Content-Length and sendfile.
  const h = c.res.headers;
  h.set("X-RateLimit-Limit", String(rate.limit));
  h.set("X-RateLimit-Remaining", String(rate.remaining));
  h.set("X-RateLimit-Reset", String(rate.reset));
};

/**
 * Authenticates when an Authorization header is present (a bad key is still a 401) and lets
 * the request through without a principal when there is none: routes open to anonymous use.
 */
export function optionalKey<E extends RouteEnv<"auth">>(scope?: Scope): MiddlewareHandler<E> {
  const required = requireKey<E>(scope);
  return async (c, next) => {
    if (c.req.header("authorization") === undefined && sessionSecretOf(c.req.header("cookie")) === null) {
      refuseKeyInQuery(c.req.url);
      return next();
    }
    return required(c, next);
  };
}

/** Requires a valid key (or dashboard session); the scope defaults from the method (reads need `read`, the rest `write`). */
export function requireKey<E extends RouteEnv<"auth">>(scope?: Scope): MiddlewareHandler<E> {
  return async (c, next) => {
    refuseKeyInQuery(c.req.url);
    await admit(c, { scope });
    await next();
  };
}
