import type { User } from "../db/schema.ts";
import { AppError } from "./errors.ts";
import { periodBounds, periodOf, planOf, type Usage } from "./usage.ts";

// The upload quota in one place (issue #7 builds full plans on it): which limits apply to a
// tenant, how much is left, and the refusal when nothing is.

const MiB = 1024 ** 2;

export interface Limits {
  uploadsPerMonth: number | null;
  storageBytes: number | null;
  /** Uploads expire after this many days (null: they may be permanent). */
  retentionDays: number | null;
}

/** img.pro's limits for an account nobody has verified yet. */
export const UNVERIFIED: Limits = { uploadsPerMonth: 100, storageBytes: 5120 * MiB, retentionDays: 30 };
export const ANONYMOUS_RETENTION_DAYS = 30;

export function limitsOf(user: User): Limits {
  if (!user.verified) return UNVERIFIED;
  const plan = planOf(user.plan);
  return { uploadsPerMonth: plan.uploadsPerMonth, storageBytes: plan.storageBytes, retentionDays: null };
}

export interface QuotaStatus {
  limits: Limits;
  uploadsUsed: number;
  storageUsed: number;
  images: number;
  /** When the monthly counters start again (ms). */
  resetsAt: number;
}

export class Quota {
  constructor(private readonly usage: Usage, private readonly now: () => number) {}

  async status(user: User): Promise<QuotaStatus> {
    const period = periodOf(this.now());
    const [month, storage] = await Promise.all([this.usage.month(user.id, period), this.usage.storage(user.id)]);
    return { limits: limitsOf(user), uploadsUsed: month.uploads, storageUsed: storage.bytes, images: storage.images, resetsAt: periodBounds(period).end };
  }

  /** Refuses an upload of `bytes` that the month's count or the storage limit has no room for. */
  async checkUpload(user: User, bytes: number): Promise<void> {
    const s = await this.status(user);
    if (s.limits.uploadsPerMonth !== null && s.uploadsUsed >= s.limits.uploadsPerMonth) {
      throw new AppError("PLAN_LIMIT_EXCEEDED", `Monthly upload limit of ${s.limits.uploadsPerMonth} reached`, { reason: "quota_exceeded" });
    }
    if (s.limits.storageBytes !== null && s.storageUsed + bytes > s.limits.storageBytes) {
      throw new AppError("PLAN_LIMIT_EXCEEDED", `Storage limit of ${s.limits.storageBytes} bytes reached`, { reason: "quota_exceeded" });
    }
  }
}
