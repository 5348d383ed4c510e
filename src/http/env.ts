import type { Principal } from "../domain/accounts/keys.ts";
import type { RateState } from "../domain/metering/metering.ts";
import type { AppServices } from "../services.ts";
import type { Bindings } from "./target.ts";

export type { AppServices } from "../services.ts";

/** A router's Hono environment: only the services named in `K` are visible to it. */
export interface RouteEnv<K extends keyof AppServices = keyof AppServices> {
  Variables: {
    services: Pick<AppServices, K>;
    principal: Principal;
    requestId: string;
    /** The key's rate window, for the X-RateLimit-* headers (absent: no key or no limit). */
    rateLimit: RateState | undefined;
  };
  Bindings: Bindings;
}

/** Hono's typing of what middleware leaves on the context (every service: the app itself). */
export type AppEnv = RouteEnv;
