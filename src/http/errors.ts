import type { Context } from "hono";
import { CodecError } from "../../codecs/types.ts";
import { AppError } from "../domain/errors.ts";
import { MultipartError } from "./multipart.ts";

/** Turns anything thrown into an AppError; what is not a client mistake is logged, not shown. */
export function toAppError(err: unknown, log: (msg: string) => void = console.error): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof MultipartError) return new AppError("VALIDATION_ERROR", `Malformed multipart body: ${err.message}`);
  if (err instanceof CodecError) {
    switch (err.code) {
      case "queue_full":
        return new AppError("SERVICE_UNAVAILABLE", "The image workers are busy; retry shortly", { retryAfter: 1 });
      case "closed":
        return new AppError("SERVICE_UNAVAILABLE", "The server is shutting down", { retryAfter: 5 });
      case "timeout":
        return new AppError("INVALID_FILE", "The image took too long to process");
      case "too_large":
        return new AppError("INVALID_FILE", `Image is too large: ${err.message}`);
      default:
        return new AppError("INVALID_FILE", `The image could not be decoded: ${err.message}`);
    }
  }
  if (err instanceof SyntaxError) return new AppError("VALIDATION_ERROR", "Request body is not valid JSON");
  log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return new AppError("INTERNAL_ERROR", "Internal server error");
}

/** The native (img-src) error envelope. */
export function nativeErrorResponse(c: Context, err: AppError) {
  if (err.extra.retryAfter) c.header("Retry-After", String(err.extra.retryAfter));
  return c.json({ error: { code: err.code, message: err.message, status: err.status, path: c.req.path } }, err.status as any);
}
