import type { Principal } from "../domain/keys.ts";
import type { Services } from "../services.ts";

/** Hono's typing of what middleware leaves on the context. */
export interface AppEnv {
  Variables: {
    services: Services;
    principal: Principal;
    requestId: string;
  };
  Bindings: { remoteAddress: string };
}
