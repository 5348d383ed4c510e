import type { Context } from "hono";
import type { Requester } from "../domain/delivery/access.ts";
import { clientIp } from "./client-ip.ts";
import { sessionSecretOf } from "./session.ts";
import type { RouteEnv } from "./env.ts";

/** The services a delivery route needs to say who is asking. */
export type RequesterServices = "auth" | "trustedProxies";

/**
 * Who asks for an image: the client's address, and the tenant whose API key (Bearer) or
 * dashboard session came along. Delivery URLs need neither, so a key or session that does not
 * check out makes the request anonymous rather than refused; the look-up runs once, only when
 * an answer depends on it, and is not metered as an API request.
 */
export function requesterOf<E extends RouteEnv<RequesterServices>>(ctx: Context<E>): Requester {
  const c = ctx as unknown as Context<RouteEnv<RequesterServices>>;
  const authorization = c.req.header("authorization");
  const session = authorization === undefined ? sessionSecretOf(c.req.header("cookie")) : null;
  let tenant: Promise<string | undefined> | undefined;
  return {
    address: clientIp(c),
    tenant: () => {
      if (authorization === undefined && session === null) return Promise.resolve(undefined);
      tenant ??= c.var.services.auth.caller(authorization, session).then((p) => p?.user.id);
      return tenant;
    },
  };
}
