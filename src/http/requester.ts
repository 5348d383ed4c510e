import type { Context } from "hono";
import type { Requester } from "../domain/delivery/access.ts";
import { clientIp } from "./client-ip.ts";
import { sessionSecretOf } from "./session.ts";
import type { RouteEnv } from "./env.ts";

/** The services a delivery route needs to say who is asking. */
export type RequesterServices = "trustedProxies";

/** Who asks for an image: the client's address, and the key or dashboard session that came along (checked by Access, only when an answer depends on it). */
export function requesterOf<E extends RouteEnv<RequesterServices>>(ctx: Context<E>): Requester {
  const c = ctx as unknown as Context<RouteEnv<RequesterServices>>;
  const authorization = c.req.header("authorization");
  return {
    address: clientIp(c),
    authorization,
    session: authorization === undefined ? sessionSecretOf(c.req.header("cookie")) : null,
  };
}
