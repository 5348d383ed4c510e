import type { Context } from "hono";
import type { RouteEnv } from "./env.ts";
import { baseUrl } from "./urls.ts";

/**
 * Delivers the link that makes an address given at open registration its account's. imgd
 * sends no mail itself: the link goes to the server's log, for the operator to pass on (or
 * for a mail relay reading the log); until it is opened the address belongs to nobody.
 */
export function sendEmailLink<E extends RouteEnv<"log">>(c: Context<E>, email: string, secret: string) {
  const cc = c as unknown as Context<RouteEnv<"ownHosts" | "log">>;
  const link = `${baseUrl(cc)}/auth/email/confirm?token=${secret}`;
  cc.var.services.log(`Email confirmation for ${email}: open ${link} (one-time link, valid 24 hours)`);
}
