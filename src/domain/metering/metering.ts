import type { Kysely } from "kysely";
import type { Db } from "../../db/connection.ts";
import type { Database, User } from "../../db/schema.ts";
import { AppError } from "../errors.ts";
import type { Events } from "../webhooks/events.ts";
import type { Principal } from "../accounts/keys.ts";
import { type Feature, FEATURE_REFUSALS, type Plan, type Plans } from "./plans.ts";
import { periodBounds, periodOf, type Metric, type Usage } from "./usage.ts";

// One metering service for every dialect: which limits a tenant has, the checks that refuse
// (each counts in the same statement that checks, so concurrent requests cannot overshoot),
// and the figures the usage routes report. Dialects only translate the refusals.

const MiB = 1024 ** 2;
const MINUTE = 60_000;

export interface Limits extends Plan {
  /** Uploads expire after this many days (null: they may be permanent). */
  retentionDays: number | null;
}

/** img.pro's limits for an account nobody has verified yet; they cap the plan's. */
export const UNVERIFIED = { uploadsPerMonth: 100, storageBytes: 5120 * MiB, retentionDays: 30 };
export const ANONYMOUS_RETENTION_DAYS = 30;

const min = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

/** One key's minute window, as the X-RateLimit-* headers tell it. */
export interface RateState {
  limit: number;
  remaining: number;
  /** Unix seconds when the window ends. */
  reset: number;
}

export interface QuotaStatus {
  limits: Limits;
  uploadsUsed: number;
  storageUsed: number;
  images: number;
  month: Record<Metric, number>;
  period: string;
  /** When the monthly counters start again (ms). */
  resetsAt: number;
}

export interface MeteringDeps {
  db: Db;
  usage: Usage;
  plans: Plans;
  now: () => number;
  /** False: count nothing, refuse nothing (IMGD_METERING=false). */
  enabled: boolean;
  /** Percent of each plan's monthly transformations only the owner's own requests may use (IMGD_OWNER_RESERVE). */
  ownerReservePercent?: number;
  /** The webhook outbox (quota.warning). */
  events?: Pick<Events, "emit">;
}

/** A tenant crossing this share of a monthly upload count or its storage hears of it (quota.warning). */
export const QUOTA_WARNING = 0.8;

/** Transformations of a monthly `limit` kept for the owner: `percent` of it, at least one when there is any. */
export function ownerReserve(limit: number, percent: number): number {
  if (limit <= 0 || percent <= 0) return 0;
  return Math.min(limit, Math.max(1, Math.ceil((limit * percent) / 100)));
}

const limitReached = (what: string, limit: number) =>
  new AppError(
    "PLAN_LIMIT_EXCEEDED",
    `Monthly ${what} limit of ${limit} reached; it resets at the start of next month (UTC)`,
    { reason: "quota_exceeded", remedy: "upgrade" },
  );

/** What an upload may be: its largest size, and the storage left (null: no storage limit). */
export interface UploadAllowance {
  maxBytes: number;
  storage: { left: number; limit: number } | null;
}

export class Metering {
  constructor(private readonly d: MeteringDeps) {}

  get enabled() {
    return this.d.enabled;
  }

  limitsOf(user: User): Limits {
    const plan = this.d.plans.of(user.plan);
    if (user.verified) return { ...plan, retentionDays: null };
    return {
      ...plan,
      uploadsPerMonth: min(plan.uploadsPerMonth, UNVERIFIED.uploadsPerMonth),
      storageBytes: min(plan.storageBytes, UNVERIFIED.storageBytes),
      retentionDays: UNVERIFIED.retentionDays,
    };
  }

  async status(user: User): Promise<QuotaStatus> {
    const period = periodOf(this.d.now());
    const [month, storage] = await Promise.all([this.d.usage.month(user.id, period), this.d.usage.storage(user.id)]);
    return {
      limits: this.limitsOf(user),
      uploadsUsed: month.uploads,
      storageUsed: storage.bytes,
      images: storage.images,
      month,
      period,
      resetsAt: periodBounds(period).end,
    };
  }

  /**
   * An authenticated API request: takes one from the key's minute window and one from the
   * tenant's monthly API requests, both or neither (a refused request costs nothing). Answers
   * with the window's state, and the refusal when there is one (the caller sends the state's
   * headers with the refusal too).
   */
  async request(principal: Principal): Promise<{ rate?: RateState; refusal?: AppError }> {
    if (!this.d.enabled) return {};
    const limits = this.limitsOf(principal.user);
    const now = this.d.now();
    let rate: RateState | undefined;
    try {
      await this.d.db.transaction().execute(async (trx) => {
        if (limits.requestsPerMinute !== null) {
          const rpm = limits.requestsPerMinute;
          const start = now - (now % MINUTE);
          const reset = (start + MINUTE) / 1000;
          const row =
            rpm > 0
              ? await trx
                  .insertInto("rate_windows")
                  .values({ subject: `key:${principal.key.id}`, window_ms: MINUTE, window_start: start, count: 1 })
                  .onConflict((oc) =>
                    oc
                      .columns(["subject", "window_ms", "window_start"])
                      .doUpdateSet((eb) => ({ count: eb("rate_windows.count", "+", 1) }))
                      .where("rate_windows.count", "<", rpm),
                  )
                  .returning("count")
                  .executeTakeFirst()
              : undefined;
          if (!row) {
            rate = { limit: rpm, remaining: 0, reset };
            throw new AppError(
              "RATE_LIMIT_EXCEEDED",
              `Rate limit of ${rpm} requests per minute reached for this API key`,
              {
                retryAfter: Math.max(1, Math.ceil((start + MINUTE - now) / 1000)),
              },
            );
          }
          rate = { limit: rpm, remaining: Math.max(0, rpm - Number(row.count)), reset };
        }
        if (!(await this.d.usage.consume(principal.user.id, "api_requests", 1, limits.apiRequestsPerMonth, trx))) {
          throw limitReached("API request", limits.apiRequestsPerMonth!);
        }
      });
    } catch (err) {
      // Thrown to roll the transaction back; answered, not thrown, so the state goes with it.
      if (err instanceof AppError) return { rate, refusal: err };
      throw err;
    }
    return { rate };
  }

  /**
   * What an upload may be, asked before its body is read: the largest the server and the
   * tenant's plan accept, and the storage the plan has left (null: no storage limit). Refuses
   * when the month's uploads are used up.
   */
  async uploadAllowance(user: User, serverMax: number): Promise<UploadAllowance> {
    if (!this.d.enabled) return { maxBytes: serverMax, storage: null };
    const limits = this.limitsOf(user);
    if (limits.uploadsPerMonth !== null) {
      const { uploads } = await this.d.usage.month(user.id);
      if (uploads >= limits.uploadsPerMonth) throw limitReached("upload", limits.uploadsPerMonth);
    }
    const maxBytes = min(serverMax, limits.maxUploadBytes)!;
    if (limits.storageBytes === null) return { maxBytes, storage: null };
    const used = (await this.d.usage.storage(user.id)).bytes;
    return { maxBytes, storage: { left: Math.max(0, limits.storageBytes - used), limit: limits.storageBytes } };
  }

  /**
   * Counts a new image inside the transaction that stores it: the upload counter's row is
   * taken first (on PostgreSQL it stays locked to the commit, so one tenant's uploads check
   * storage one after another), then storage is checked with this image's bytes.
   */
  async countUpload(trx: Kysely<Database>, userId: string, bytes: number, imageId: string): Promise<void> {
    if (!this.d.enabled) return;
    const user = await trx.selectFrom("users").selectAll().where("id", "=", userId).executeTakeFirst();
    if (!user) return;
    const limits = this.limitsOf(user);
    if (!(await this.d.usage.consume(userId, "uploads", 1, limits.uploadsPerMonth, trx)))
      throw limitReached("upload", limits.uploadsPerMonth!);
    if (limits.uploadsPerMonth !== null) {
      const row = await trx
        .selectFrom("usage_counters")
        .select("value")
        .where("user_id", "=", userId)
        .where("period", "=", periodOf(this.d.now()))
        .where("metric", "=", "uploads")
        .executeTakeFirst();
      await this.#warn(trx, userId, imageId, "uploads", Number(row?.value ?? 1), 1, limits.uploadsPerMonth);
    }
    if (limits.storageBytes !== null) {
      const used = (await this.d.usage.storage(userId, trx)).bytes;
      await this.#warn(trx, userId, imageId, "storage", used + bytes, bytes, limits.storageBytes);
      if (used + bytes > limits.storageBytes) {
        throw new AppError(
          "PLAN_LIMIT_EXCEEDED",
          `Storage limit of ${limits.storageBytes} bytes reached (${used} used, this file is ${bytes})`,
          { reason: "quota_exceeded", remedy: "upgrade" },
        );
      }
    }
    await this.d.usage.add(userId, "storage_added", bytes, trx);
  }

  /** quota.warning, in the upload's transaction, when this upload took `quota` across QUOTA_WARNING of `limit`. */
  async #warn(
    trx: Kysely<Database>,
    userId: string,
    imageId: string,
    quota: "uploads" | "storage",
    used: number,
    added: number,
    limit: number,
  ) {
    const mark = limit * QUOTA_WARNING;
    if (!this.d.events || limit <= 0 || used < mark || used - added >= mark) return;
    await this.d.events.emit(trx, userId, "quota.warning", {
      id: imageId,
      quota,
      used,
      limit,
      threshold_percent: QUOTA_WARNING * 100,
      ...(quota === "uploads" ? { period: periodOf(this.d.now()) } : {}),
    });
  }

  /**
   * Takes one transformation before a variant is produced; `refund` gives it back on failure.
   * `anonymous` (not the owner's own request) may take only what is left above the owner's
   * reserve (IMGD_OWNER_RESERVE), so strangers' URLs cannot use up the month for the owner.
   */
  async admitTransformation(user: User, anonymous = false): Promise<() => Promise<void>> {
    if (!this.d.enabled) return async () => {};
    const userId = user.id;
    const limit = this.limitsOf(user).transformationsPerMonth;
    if (anonymous && limit !== null) {
      const share = limit - ownerReserve(limit, this.d.ownerReservePercent ?? 0);
      if (!(await this.d.usage.consume(userId, "transformations", 1, share))) {
        throw new AppError(
          "PLAN_LIMIT_EXCEEDED",
          `This image's owner has no transformations left this month for requests without its key ` +
            `(${limit - share} of ${limit} are kept for the owner's own use): variants already made are still served`,
          { reason: "quota_exceeded", remedy: "upgrade" },
        );
      }
      return () => this.d.usage.add(userId, "transformations", -1);
    }
    if (!(await this.d.usage.consume(userId, "transformations", 1, limit))) {
      throw new AppError(
        "PLAN_LIMIT_EXCEEDED",
        `Monthly transformation limit of ${limit} reached: images already transformed are still served`,
        { reason: "quota_exceeded", remedy: "upgrade" },
      );
    }
    return () => this.d.usage.add(userId, "transformations", -1);
  }

  /** One image served: its bytes, one request, and whether the cache had it (kept in memory, flushed soon). */
  countDelivery(userId: string, bytes: number, cache: "hit" | "miss" | "original") {
    if (this.d.enabled) this.d.usage.countDelivery(userId, bytes, cache);
  }

  /**
   * The one check for what a plan includes (private images, signed URLs, presets, AssetsRepo):
   * 403 with the reference's words and an upgrade remedy. Off with metering, like every limit.
   */
  requireFeature(user: User, feature: Feature): void {
    if (!this.d.enabled || this.d.plans.includes(user.plan, feature)) return;
    throw new AppError("FORBIDDEN", FEATURE_REFUSALS[feature], { remedy: "upgrade" });
  }

  /** Takes one view (AssetsRepo); refuses with 429 when the month's views are used up. */
  async admitView(user: User): Promise<() => Promise<void>> {
    if (!this.d.enabled) return async () => {};
    this.requireFeature(user, "assetsrepo");
    const limit = this.limitsOf(user).viewsPerMonth;
    if (limit === 0)
      throw new AppError("FORBIDDEN", "Your plan includes no image views through this API", { remedy: "upgrade" });
    if (!(await this.d.usage.consume(user.id, "views", 1, limit))) {
      const now = this.d.now();
      throw new AppError("RATE_LIMIT_EXCEEDED", `Monthly view limit of ${limit} exceeded; it resets on the 1st (UTC)`, {
        retryAfter: Math.max(1, Math.ceil((periodBounds(periodOf(now)).end - now) / 1000)),
        reason: "view_limit_exceeded",
      });
    }
    return () => this.d.usage.add(user.id, "views", -1);
  }
}
