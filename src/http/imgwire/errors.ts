import type { Context } from "hono";
import { AppError } from "../../domain/errors.ts";

// Imgwire answers like the FastAPI service it is: request validation is a 422 listing every
// problem as {loc, msg, type}; anything else is {"detail": "..."} with its status.

export interface Issue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export class ImgwireValidation extends AppError {
  constructor(readonly issues: Issue[]) {
    super("VALIDATION_ERROR", issues.map((i) => `${i.loc.join(".")}: ${i.msg}`).join("; "), {
      field: String(issues[0]?.loc.at(-1) ?? "body"),
    });
  }
}

/** `plain400`: the CDN answers bad URL options with a 400, as Imgwire's CDN does. */
export function imgwireErrorResponse(c: Context, err: AppError, opts: { plain400?: boolean } = {}) {
  if (err.extra.retryAfter) c.header("Retry-After", String(err.extra.retryAfter));
  if (err.code === "VALIDATION_ERROR" && !opts.plain400) {
    const issues =
      err instanceof ImgwireValidation
        ? err.issues
        : [{ loc: ["body", err.extra.field ?? "body"], msg: err.message.replace(/^[^:]+: /, ""), type: "value_error" }];
    return c.json({ detail: issues }, 422);
  }
  return c.json({ detail: err.message }, err.status as any);
}
