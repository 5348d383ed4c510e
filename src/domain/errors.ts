// Domain errors carry the native (img-src) code; each HTTP dialect maps them to its own words.

export type ErrorCode =
  | "VALIDATION_ERROR"
  | "INVALID_FILE"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "PLAN_LIMIT_EXCEEDED"
  | "NOT_FOUND"
  | "CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "RATE_LIMIT_EXCEEDED"
  | "SERVICE_UNAVAILABLE"
  | "INTERNAL_ERROR";

const STATUS: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  INVALID_FILE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PLAN_LIMIT_EXCEEDED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMIT_EXCEEDED: 429,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
};

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: {
      field?: string;
      retryAfter?: number;
      /** A finer cause than the code, for dialects that name it (e.g. img.pro's `key_limit_reached`). */
      reason?: string;
      /** What the client can do about it, for dialects that say so (img.pro's `action`). */
      remedy?: "upgrade" | "verify" | "retry";
      /** Every field that failed, not only the first, for dialects that report them all. */
      errors?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.name = "AppError";
    this.status = STATUS[code];
  }
}

/** A field of the request is wrong: a 400 saying `field: what is wrong`, naming the field. */
export const invalid = (field: string, message: string) =>
  new AppError("VALIDATION_ERROR", `${field}: ${message}`, { field });
export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`);

/**
 * The database did not answer (refused, dropped, restarting, out of connections, or the pool
 * waited too long): a 503 to retry, not a 500. PostgreSQL's classes 08 (connection), 53
 * (insufficient resources) and 57P (operator intervention), and the socket's own errors.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  if (/^(08|53|57P)/.test(code)) return true;
  if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"].includes(code)) return true;
  const message = typeof e?.message === "string" ? e.message : "";
  return /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|not currently accepting connections/i.test(
    message,
  );
}

/**
 * The storage did not answer (refused, timed out, a 5xx, or S3 known to be down and not tried):
 * a 503 to retry, not a 500. Told by the S3 driver's error, without depending on the driver.
 */
export function isStorageUnavailable(err: unknown): boolean {
  const e = err as { name?: unknown; status?: unknown } | null;
  return e?.name === "S3Error" && typeof e.status === "number" && (e.status === 0 || e.status >= 500);
}
