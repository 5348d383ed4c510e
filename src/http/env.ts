import type { Principal } from "../domain/keys.ts";
import type { RateState } from "../domain/metering.ts";
import type { Services } from "../services.ts";

/** Hono's typing of what middleware leaves on the context. */
export interface AppEnv {
  Variables: {
    services: Services;
    principal: Principal;
    requestId: string;
    /** The key's rate window, for the X-RateLimit-* headers (absent: no key or no limit). */
    rateLimit: RateState | undefined;
  };
  Bindings: { remoteAddress: string };
}
