import type { Db } from "../../db/connection.ts";
import { AppError } from "../errors.ts";

export interface RateRule {
  /** What is counted, e.g. `register-ip:203.0.113.7`. */
  subject: string;
  limit: number;
  windowMs: number;
  /** Said in the refusal: "20 per hour". */
  label: string;
}

/**
 * Fixed-window counters kept in the database, so every process and node sees the same count
 * and a restart forgets nothing. Either every rule has room and each counts one event, or none
 * counts and the first full rule is refused.
 */
export class RateLimits {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  async take(rules: RateRule[], what: string): Promise<void> {
    const now = this.now();
    await this.db.transaction().execute(async (trx) => {
      for (const r of rules) {
        const start = now - (now % r.windowMs);
        // One conditional upsert per rule: concurrent callers on any node cannot both take
        // the last unit (PostgreSQL locks the row; SQLite has one writer). A refusal throws,
        // which rolls back what earlier rules took.
        const taken =
          r.limit > 0
            ? await trx
                .insertInto("rate_windows")
                .values({ subject: r.subject, window_ms: r.windowMs, window_start: start, count: 1 })
                .onConflict((oc) =>
                  oc
                    .columns(["subject", "window_ms", "window_start"])
                    .doUpdateSet((eb) => ({ count: eb("rate_windows.count", "+", 1) }))
                    .where("rate_windows.count", "<", r.limit),
                )
                .returning("count")
                .executeTakeFirst()
            : undefined;
        if (!taken) {
          throw new AppError("RATE_LIMIT_EXCEEDED", `Too many ${what}: the limit is ${r.label}`, {
            retryAfter: Math.max(1, Math.ceil((start + r.windowMs - now) / 1000)),
          });
        }
      }
    });
  }

  /** Drops windows that ended more than a day ago. */
  async prune() {
    await this.db
      .deleteFrom("rate_windows")
      .where("window_start", "<", this.now() - 2 * 86_400_000)
      .execute();
  }
}

export const HOUR = 3_600_000;
export const DAY = 86_400_000;
