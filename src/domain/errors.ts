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

export const invalid = (field: string, message: string) =>
  new AppError("VALIDATION_ERROR", `${field}: ${message}`, { field });
export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`);
