import type { Context } from "hono";
import { CodecError } from "../../codecs/types.ts";
import { AppError, isDatabaseUnavailable, isStorageUnavailable } from "../domain/errors.ts";
import { MultipartError } from "./multipart.ts";
import { bodyWasRead } from "./validate.ts";

/** Turns anything thrown into an AppError; what is not a client mistake is logged, not shown. */
export function toAppError(err: unknown, log: (msg: string) => void = console.error): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof MultipartError)
    return new AppError("VALIDATION_ERROR", `Malformed multipart body: ${err.message}`);
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
  if (isStorageUnavailable(err)) {
    log(`storage unavailable: ${err instanceof Error ? err.message : String(err)}`);
    return new AppError("SERVICE_UNAVAILABLE", "The storage does not answer; retry shortly", { retryAfter: 2 });
  }
  if (isDatabaseUnavailable(err)) {
    log(`database unavailable: ${err instanceof Error ? err.message : String(err)}`);
    return new AppError("SERVICE_UNAVAILABLE", "The database does not answer; retry shortly", { retryAfter: 2 });
  }
  log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return new AppError("INTERNAL_ERROR", "Internal server error");
}

/** The native (img-src) error envelope. */
export function nativeErrorResponse(c: Context, err: AppError) {
  if (err.extra.retryAfter) c.header("Retry-After", String(err.extra.retryAfter));
  return c.json(nativeErrorBody(err, c.req.path), err.status as any);
}

/** The native error envelope outside a route (the front router, before one is chosen). */
export function nativeError(err: AppError, path: string): Response {
  const headers = new Headers({ "content-type": "application/json" });
  if (err.extra.retryAfter) headers.set("Retry-After", String(err.extra.retryAfter));
  return new Response(JSON.stringify(nativeErrorBody(err, path)), { status: err.status, headers });
}

const nativeErrorBody = (err: AppError, path: string) => ({
  error: { code: err.code, message: err.message, status: err.status, path },
});

/**
 * Before answering a refusal: a body not read to its end is read now if the rest is small, so
 * the connection stays usable; a large rest is not worth receiving, so the connection is
 * closed and the rest is never taken for the next request.
 */
export async function settleBody(c: Context) {
  if (c.req.raw.body && !bodyWasRead(c.req.raw) && !(await drain(c.req.raw.body))) c.header("Connection", "close");
}

/** Reads and drops what is left of a body, up to 1 MiB and 2 s; true if it reached the end. */
async function drain(body: ReadableStream<Uint8Array>): Promise<boolean> {
  if (body.locked) return false;
  const reader = body.getReader();
  const deadline = Date.now() + 2000;
  let left = 1 << 20;
  try {
    while (left > 0 && Date.now() < deadline) {
      const r = await Promise.race([
        reader.read(),
        new Promise<null>((res) => setTimeout(res, deadline - Date.now(), null)),
      ]);
      if (r === null) return false;
      if (r.done) return true;
      left -= r.value.byteLength;
    }
    return false;
  } catch {
    return false;
  } finally {
    reader.cancel().catch(() => {});
  }
}
