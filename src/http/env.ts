import type { Principal } from "../domain/keys.ts";
import type { RateState } from "../domain/metering.ts";
import type { Services } from "../services.ts";

/**
 * What HTTP routes may use: the use cases and the instance's settings, never the database,
 * the stores or the worker pool (those stay behind the domain).
 */
export type AppServices = Omit<Services, "db" | "blobs" | "pool" | "variants" | "sweeper">;

/** The part of AppServices built from a full Services: a new object, so `db` is not even there. */
export function appServices(s: Services): AppServices {
  const { db: _db, blobs: _blobs, pool: _pool, variants: _variants, sweeper: _sweeper, ...rest } = s;
  return rest;
}

/** A router's Hono environment: only the services named in `K` are visible to it. */
export interface RouteEnv<K extends keyof AppServices = keyof AppServices> {
  Variables: {
    services: Pick<AppServices, K>;
    principal: Principal;
    requestId: string;
    /** The key's rate window, for the X-RateLimit-* headers (absent: no key or no limit). */
    rateLimit: RateState | undefined;
  };
  Bindings: { remoteAddress: string };
}

/** Hono's typing of what middleware leaves on the context (every service: the app itself). */
export type AppEnv = RouteEnv;
