import type { Tokens } from "../../domain/tokens/tokens.ts";
import type { AppServices } from "../env.ts";
import type { Context } from "hono";
import { baseUrl, type Ctx, type ImgwireEnv } from "./context.ts";

export const DOMAIN_CHECK_PATH = "/.well-known/imgd-domain-check";

/** What this imgd answers on the check path: derived from its secret, the same on every node sharing it. */
export const domainCheckToken = (tokens: Tokens) => tokens.sign("domain-check", []);

/**
 * Whether a request to the domain reaches this imgd: one GET of a fixed path, no redirects
 * followed, a short deadline; only a yes or no comes back to the caller.
 */
export async function checkDomain(c: Ctx, hostname: string): Promise<boolean> {
  const { config, tokens } = (c as Context<ImgwireEnv<"config" | "tokens">>).var.services;
  const base = new URL(baseUrl(c));
  const url = `${base.protocol}//${hostname}${base.port ? `:${base.port}` : ""}${config.basePath}${DOMAIN_CHECK_PATH}`;
  try {
    const res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(3000) });
    return res.status === 200 && (await res.text()).trim() === domainCheckToken(tokens);
  } catch {
    return false;
  }
}

/**
 * Before routing: the check path answers on any host; on a connected domain's host every
 * GET is that tenant's CDN. Returns the rewritten request, a response, or null (not ours).
 */
export async function routeCustomDomain(
  services: Pick<AppServices, "tokens" | "imgwire" | "config">,
  req: Request,
): Promise<Request | Response | null> {
  // Every request passes here, so the common answers come from string checks alone.
  if (req.url.includes(DOMAIN_CHECK_PATH) && new URL(req.url).pathname === DOMAIN_CHECK_PATH) {
    return new Response(domainCheckToken(services.tokens), { headers: { "content-type": "text/plain" } });
  }
  const host = (req.headers.get("host") ?? new URL(req.url).host).toLowerCase().replace(/:\d+$/, "");
  if (!host || /^[\d.]+$/.test(host) || host.startsWith("[") || host === services.imgwire.publicHost) return null;
  const found = await services.imgwire.hosts.lookup(host);
  if (!found?.connected) return null;
  if (req.method !== "GET" && req.method !== "HEAD")
    return new Response(JSON.stringify({ detail: "Method not allowed" }), {
      status: 405,
      headers: { "content-type": "application/json" },
    });
  const url = new URL(req.url);
  url.pathname = `${services.config.imgwireMount}/cdn/${encodeURIComponent(found.user.username)}${url.pathname}`;
  return new Request(url, req);
}
