import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { inCidr, parseAddress, unmapped } from "../domain/fetcher/addresses.ts";
import { SessionEndedError } from "../domain/auth/auth.ts";
import { AppError } from "../domain/errors.ts";
import { SESSION_IDLE_MS, type SessionPrincipal, type Site, sameSecret } from "../domain/accounts/sessions.ts";
import type { AppEnv } from "./env.ts";

// The dashboard's session cookie on the HTTP side (shared: the Auth step of every dialect takes
// it as well as the dashboard's own routes): finding it, the Origin and CSRF checks that
// a request made with it must pass, and setting and clearing it. The Auth step turns the
// cookie into the same principal a key gives (domain/auth/auth.ts); http/auth.ts hands it over.

export const SESSION_COOKIE = "imgd_session";
export const CSRF_HEADER = "x-csrf-token";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export type { Site };

type AnyContext = Context<any>;

/** The session secret in a Cookie header, without parsing the rest (auth checks this first). */
export function sessionSecretOf(cookie: string | undefined): string | null {
  if (!cookie || !cookie.includes(`${SESSION_COOKIE}=`)) return null;
  return new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([^;]+)`).exec(cookie)?.[1] ?? null;
}

/** Whether the request came from a proxy named in IMGD_TRUST_PROXY (whose X-Forwarded-* count). */
function fromTrustedProxy(c: AnyContext, site: Site): boolean {
  const addr = parseAddress(unmapped(c.env?.remoteAddress ?? ""));
  return !!addr && site.trustedProxies.some((t) => inCidr(addr, t));
}

/** Whether the browser reached us over HTTPS: directly, by the public URL, or per a trusted proxy. */
export function isHttps(c: AnyContext, site: Site): boolean {
  if (new URL(c.req.url).protocol === "https:") return true;
  if (site.publicUrl?.startsWith("https:")) return true;
  return (
    fromTrustedProxy(c, site) &&
    (c.req.header("x-forwarded-proto") ?? "").split(",")[0].trim().toLowerCase() === "https"
  );
}

/** The origins a same-site page of this server has. */
function ownOrigins(c: AnyContext, site: Site): Set<string> {
  const url = new URL(c.req.url);
  const out = new Set<string>([url.origin]);
  if (site.publicUrl) out.add(new URL(site.publicUrl).origin);
  const host = c.req.header("host");
  if (host) out.add(`${url.protocol}//${host}`);
  if (fromTrustedProxy(c, site)) {
    const fh = c.req.header("x-forwarded-host")?.split(",")[0].trim();
    const fp = c.req.header("x-forwarded-proto")?.split(",")[0].trim() || "http";
    if (fh) out.add(`${fp}://${fh}`);
  }
  return out;
}

/**
 * A state-changing request made with the cookie must come from our own pages: its Origin is
 * ours (or, with no Origin, Sec-Fetch-Site says same-origin) and it carries the session's CSRF
 * token in a header, which a cross-site form cannot set.
 */
export function checkSameOrigin(c: AnyContext, site: Site): void {
  const origin = c.req.header("origin");
  if (origin ? !ownOrigins(c, site).has(origin) : c.req.header("sec-fetch-site") !== "same-origin") {
    throw new AppError("FORBIDDEN", "Cross-site request refused: this request must come from imgd's own pages");
  }
}

export function checkCsrf(c: AnyContext, site: Site, p: SessionPrincipal): void {
  if (SAFE.has(c.req.method)) return;
  checkSameOrigin(c, site);
  const sent = c.req.header(CSRF_HEADER) ?? "";
  if (!sent || !sameSecret(sent, p.session.csrf_token)) {
    throw new AppError(
      "FORBIDDEN",
      `Missing or wrong CSRF token: send the session's token in the ${CSRF_HEADER} header`,
    );
  }
}

export function siteOf(c: Context<AppEnv>): Site {
  const { config, trustedProxies } = c.var.services;
  return { publicUrl: config.publicUrl, trustedProxies, basePath: config.basePath };
}

/**
 * The principal of the request's session cookie, or null without a cookie (for the /auth
 * routes; the public API gets it through the Auth step). A cookie that no longer opens a
 * session is a 401 (and is cleared), so the dashboard knows to sign in again.
 */
export async function sessionPrincipal(c: Context<AppEnv>): Promise<SessionPrincipal | null> {
  const secret = getCookie(c, SESSION_COOKIE);
  if (!secret) return null;
  const p = await c.var.services.sessions.resolve(secret);
  if (!p) {
    clearSessionCookie(c, siteOf(c));
    throw new SessionEndedError();
  }
  checkCsrf(c, siteOf(c), p);
  return p;
}

export function setSessionCookie(c: AnyContext, site: Site, secret: string): void {
  setCookie(c, SESSION_COOKIE, secret, {
    httpOnly: true,
    sameSite: "Lax",
    secure: isHttps(c, site),
    path: site.basePath || "/",
    maxAge: Math.floor(SESSION_IDLE_MS / 1000),
  });
}

export function clearSessionCookie(c: AnyContext, site: Site): void {
  deleteCookie(c, SESSION_COOKIE, {
    path: site.basePath || "/",
    httpOnly: true,
    sameSite: "Lax",
    secure: isHttps(c, site),
  });
}
