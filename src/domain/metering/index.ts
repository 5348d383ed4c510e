import { type Config, ConfigError } from "../../config.ts";
import type { Db } from "../../db/connection.ts";
import { Metering } from "./metering.ts";
import { Metrics } from "./metrics.ts";
import { parsePlans, Plans } from "./plans.ts";
import { Usage } from "./usage.ts";
import type { Events } from "../webhooks/events.ts";

/** The metering side of one instance: the plans (IMGD_PLANS), the usage counters, what they allow. */
export function openMetering(
  db: Db,
  config: Pick<Config, "plans" | "metering" | "ownerReserve" | "now">,
  events?: Pick<Events, "emit">,
) {
  const { now } = config;
  const usage = new Usage(db, now);
  const plans = new Plans(plansSetting(config.plans));
  const metering = new Metering({
    db,
    usage,
    plans,
    now,
    enabled: config.metering,
    ownerReservePercent: config.ownerReserve,
    events,
  });
  // Per-tenant time series (metrics datasets and stats).
  const metrics = new Metrics(usage, now);
  return { usage, plans, metering, metrics };
}

/** The plans of IMGD_PLANS over the built-ins; a bad table stops the start like any bad setting. */
function plansSetting(source: string) {
  try {
    return parsePlans(source);
  } catch (err) {
    throw new ConfigError(
      `invalid IMGD_PLANS (--plans): expected plans as JSON or the path of a JSON file (${(err as Error).message}), got ${JSON.stringify(source)}`,
    );
  }
}
