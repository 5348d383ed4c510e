import type { Context } from "hono";
import type { Caller } from "../domain/delivery/budget.ts";
import { bearer } from "./auth.ts";
import { clientIp } from "./client-ip.ts";
import { sessionSecretOf } from "./dashboard/session-auth.ts";
import type { RouteEnv } from "./env.ts";

/** The services a delivery route needs to say who is asking. */
export type CallerServices = "keys" | "sessions" | "trustedProxies";

/**
 * Who asks for an image: the client's address, and the tenant whose API key (Bearer) or
 * dashboard session came along. Delivery URLs need neither, so a key or session that does not
 * check out makes the request anonymous rather than refused; the look-up runs only when the
 * delivery is about to make a new variant, and is not metered as an API request.
 */
export function callerOf<E extends RouteEnv<CallerServices>>(ctx: Context<E>): Caller {
  const c = ctx as unknown as Context<RouteEnv<CallerServices>>;
  const { keys, sessions } = c.var.services;
  const authorization = c.req.header("authorization");
  const key = bearer(authorization);
  const session = authorization === undefined ? sessionSecretOf(c.req.header("cookie")) : null;
  return {
    address: clientIp(c),
    tenant: async () => {
      if (key) return (await keys.authenticate(key).catch(() => null))?.user.id;
      if (session) return (await sessions.resolve(session).catch(() => null))?.user.id;
      return undefined;
    },
  };
}
