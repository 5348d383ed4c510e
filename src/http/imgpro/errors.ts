import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import type { AppError, ErrorCode } from "../../domain/errors.ts";
import { baseUrl } from "../urls.ts";
import { signupUrl } from "./shape.ts";

// img.pro's error words for the domain's codes. A domain error may name a finer cause
// (`reason`: key_limit_reached, external_id_duplicate, fetch_failed, registration_closed, …),
// which img.pro reports as the code itself.

const CODE: Record<ErrorCode, string> = {
  VALIDATION_ERROR: "validation_error",
  INVALID_FILE: "validation_error",
  UNAUTHORIZED: "unauthorized",
  FORBIDDEN: "forbidden",
  PLAN_LIMIT_EXCEEDED: "quota_exceeded",
  NOT_FOUND: "not_found",
  CONFLICT: "conflict",
  PAYLOAD_TOO_LARGE: "file_too_large",
  RATE_LIMIT_EXCEEDED: "rate_limited",
  SERVICE_UNAVAILABLE: "service_unavailable",
  INTERNAL_ERROR: "internal_error",
};

export function imgproCode(err: AppError, path: string): string {
  if (err.extra.reason) return err.extra.reason;
  if (err.code === "INTERNAL_ERROR") {
    // img.pro names the failed operation.
    if (path.startsWith("/v1/upload")) return "upload_failed";
    if (path.startsWith("/v1/import")) return "import_failed";
  }
  return CODE[err.code];
}

/**
 * img.pro's `action`: what the client can do about an error that has a remedy — upgrade the
 * plan, verify the account, or retry after a wait.
 */
function actionOf(c: Context<AppEnv>, err: AppError) {
  const remedy =
    err.extra.remedy ??
    (err.extra.reason === "key_limit_reached" ? "verify" : err.extra.retryAfter ? "retry" : undefined);
  if (remedy === "upgrade")
    return {
      type: "upgrade",
      url: signupUrl(baseUrl(c)),
      label: "Upgrade plan",
      message: "A plan with more room lifts this limit",
    };
  if (remedy === "verify")
    return {
      type: "verify",
      url: signupUrl(baseUrl(c)),
      label: "Verify account",
      message:
        "Verified accounts have no key limit and keep uploads permanently; ask this server's operator to verify yours",
    };
  if (remedy === "retry")
    return {
      type: "retry",
      retry_after: err.extra.retryAfter ?? 1,
      label: "Retry",
      message: `Retry in ${err.extra.retryAfter ?? 1} s`,
    };
  return undefined;
}

/** `{"error": {"code", "message", "status", "path", "errors"?, "action"?}}`; validation lists every bad field. */
export function imgproErrorResponse(c: Context<AppEnv>, err: AppError) {
  if (err.extra.retryAfter) c.header("Retry-After", String(err.extra.retryAfter));
  const code = imgproCode(err, c.req.path);
  const body: Record<string, unknown> = { code, message: err.message, status: err.status, path: c.req.path };
  if (err.extra.errors || err.code === "VALIDATION_ERROR" || err.code === "INVALID_FILE") {
    const field = err.extra.field ?? (err.code === "INVALID_FILE" ? "file" : "body");
    body.errors = err.extra.errors ?? { [field]: err.message.replace(new RegExp(`^${escapeRe(field)}: `), "") };
  }
  const action = actionOf(c, err);
  if (action) body.action = action;
  return c.json({ error: body }, err.status as any);
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
