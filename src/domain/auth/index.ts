import type { Config } from "../../config.ts";
import type { Db } from "../../db/connection.ts";
import { Keys } from "../accounts/keys.ts";
import { Passwords } from "../accounts/passwords.ts";
import { Sessions, SignInGuard } from "../accounts/sessions.ts";
import { Users } from "../accounts/users.ts";
import { parseCidrList } from "../fetcher/addresses.ts";
import type { Metering } from "../metering/metering.ts";
import { RateLimits } from "../metering/ratelimits.ts";
import { Auth } from "./auth.ts";

/**
 * Who may do what on one instance: the tenants, their keys, browser sessions and passwords,
 * the sign-in back-off and the request rates, and the one admission step of every dialect
 * (authenticate + scope + meter).
 */
export function openIdentity(
  db: Db,
  config: Pick<Config, "now" | "publicUrl" | "trustProxy" | "basePath">,
  metering: Metering,
) {
  const { now } = config;
  const keys = new Keys(db, now);
  const sessions = new Sessions(db, now);
  // Proxies whose X-Forwarded-For is believed (IMGD_TRUST_PROXY).
  const trustedProxies = parseCidrList(config.trustProxy);
  const site = { publicUrl: config.publicUrl, trustedProxies, basePath: config.basePath };
  return {
    users: new Users(db, now),
    keys,
    sessions,
    trustedProxies,
    auth: new Auth({ keys, metering, sessions, site }),
    rates: new RateLimits(db, now),
    // The dashboard's side: passwords and the sign-in back-off.
    passwords: new Passwords(db, now),
    signins: new SignInGuard(db, now),
  };
}
