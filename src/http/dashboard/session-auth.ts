import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { inCidr, parseAddress, unmapped } from "../../domain/addresses.ts";
import { AppError } from "../../domain/errors.ts";
import { SESSION_IDLE_MS, type SessionPrincipal, sameSecret } from "../../domain/sessions.ts";
import type { Services } from "../../services.ts";
import type { AppEnv } from "../env.ts";

// The dashboard's session cookie, turned into the same principal an API key gives. The
// authentication middleware (auth.ts) calls `sessionPrincipal` when a request carries no
// Authorization header; everything else — scopes, metering, rate limits — is the key path's.

export const SESSION_COOKIE = "imgd_session";
export const CSRF_HEADER = "x-csrf-token";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** The session secret in a Cookie header, without parsing the rest (auth checks this first). */
export function sessionSecretOf(cookie: string | undefined): string | null {
  if (!cookie || !cookie.includes(`${SESSION_COOKIE}=`)) return null;
  return new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([^;]+)`).exec(cookie)?.[1] ?? null;
}

/** Whether the request came from a proxy named in IMGD_TRUST_PROXY (whose X-Forwarded-* count). */
function fromTrustedProxy<E extends AppEnv>(c: Context<E>): boolean {
  const trusted: Services["trustedProxies"] = c.var.services.trustedProxies;
  const addr = parseAddress(unmapped(c.env?.remoteAddress ?? ""));
  return !!addr && trusted.some((t) => inCidr(addr, t));
}

/** Whether the browser reached us over HTTPS: directly, by the public URL, or per a trusted proxy. */
export function isHttps<E extends AppEnv>(c: Context<E>): boolean {
  if (new URL(c.req.url).protocol === "https:") return true;
  if (c.var.services.config.publicUrl?.startsWith("https:")) return true;
  return fromTrustedProxy(c) && (c.req.header("x-forwarded-proto") ?? "").split(",")[0].trim().toLowerCase() === "https";
}

/** The origins a same-site page of this server has. */
function ownOrigins<E extends AppEnv>(c: Context<E>): Set<string> {
  const out = new Set<string>([new URL(c.req.url).origin]);
  const { publicUrl } = c.var.services.config;
  if (publicUrl) out.add(new URL(publicUrl).origin);
  const host = c.req.header("host");
  if (host) out.add(`${new URL(c.req.url).protocol}//${host}`);
  if (fromTrustedProxy(c)) {
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
export function checkSameOrigin<E extends AppEnv>(c: Context<E>): void {
  const origin = c.req.header("origin");
  if (origin ? !ownOrigins(c).has(origin) : c.req.header("sec-fetch-site") !== "same-origin") {
    throw new AppError("FORBIDDEN", "Cross-site request refused: this request must come from imgd's own pages");
  }
}

export function checkCsrf<E extends AppEnv>(c: Context<E>, p: SessionPrincipal): void {
  if (SAFE.has(c.req.method)) return;
  checkSameOrigin(c);
  const sent = c.req.header(CSRF_HEADER) ?? "";
  if (!sent || !sameSecret(sent, p.session.csrf_token)) {
    throw new AppError("FORBIDDEN", `Missing or wrong CSRF token: send the session's token in the ${CSRF_HEADER} header`);
  }
}

/**
 * The principal of the request's session cookie, or null without a cookie. A cookie that no
 * longer opens a session is a 401 (and is cleared), so the dashboard knows to sign in again.
 */
export async function sessionPrincipal<E extends AppEnv>(c: Context<E>): Promise<SessionPrincipal | null> {
  const secret = getCookie(c, SESSION_COOKIE);
  if (!secret) return null;
  const p = await c.var.services.sessions.resolve(secret);
  if (!p) {
    clearSessionCookie(c);
    throw new AppError("UNAUTHORIZED", "Your session has ended: sign in again");
  }
  checkCsrf(c, p);
  return p;
}

export function setSessionCookie<E extends AppEnv>(c: Context<E>, secret: string): void {
  setCookie(c, SESSION_COOKIE, secret, {
    httpOnly: true,
    sameSite: "Lax",
    secure: isHttps(c),
    path: c.var.services.config.basePath || "/",
    maxAge: Math.floor(SESSION_IDLE_MS / 1000),
  });
}

export function clearSessionCookie<E extends AppEnv>(c: Context<E>): void {
  deleteCookie(c, SESSION_COOKIE, { path: c.var.services.config.basePath || "/", httpOnly: true, sameSite: "Lax", secure: isHttps(c) });
}
