import * as v from "valibot";
import { AppError } from "../domain/errors.ts";

/** Parses with a valibot schema; the first issue becomes a VALIDATION_ERROR naming its field. */
export function parse<S extends v.GenericSchema>(schema: S, input: unknown, where = "body"): v.InferOutput<S> {
  const r = v.safeParse(schema, input);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const field = issue.path?.map((p) => String(p.key)).join(".") || where;
  return (() => {
    throw new AppError("VALIDATION_ERROR", `${field}: ${issue.message}`, { field });
  })();
}

/** A query-string integer: digits only, so "-1", "1e3" and "10abc" are refused, not coerced. */
export const queryInt = (min: number, max: number, fallback: number) =>
  v.pipe(
    v.optional(v.string(), String(fallback)),
    v.regex(/^\d{1,9}$/, `expected a whole number from ${min} to ${max}`),
    v.transform(Number),
    v.minValue(min, `expected a whole number from ${min} to ${max}`),
    v.maxValue(max, `expected a whole number from ${min} to ${max}`),
  );

export async function jsonBody(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError("VALIDATION_ERROR", "Request body is not valid JSON");
  }
}
