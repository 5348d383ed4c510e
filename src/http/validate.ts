import * as v from "valibot";
import { AppError, invalid } from "../domain/errors.ts";

/** Parses with a valibot schema; the first issue becomes a VALIDATION_ERROR naming its field. */
export function parse<S extends v.GenericSchema>(schema: S, input: unknown, where = "body"): v.InferOutput<S> {
  const r = v.safeParse(schema, input);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const field = issue.path?.map((p) => String(p.key)).join(".") || where;
  return (() => {
    throw invalid(field, `${issue.message}`);
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

// Requests whose body was read to its end. A refusal of any other request with a body closes
// the connection, so the unread rest is never taken for the next request; a fully read one
// keeps it (clients reuse kept-alive connections even after "Connection: close").
const fullyRead = new WeakSet<Request>();
export const markBodyRead = (req: Request) => void fullyRead.add(req);
export const bodyWasRead = (req: Request) => fullyRead.has(req);

const MAX_JSON_BYTES = 1 << 20;

/** Reads a JSON body of at most 1 MiB; an empty body is `{}` (some clients POST with none). */
export async function jsonBody(req: Request): Promise<unknown> {
  if (Number(req.headers.get("content-length") ?? 0) > MAX_JSON_BYTES) {
    throw new AppError("PAYLOAD_TOO_LARGE", `JSON body is larger than ${MAX_JSON_BYTES} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    for await (const chunk of req.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_JSON_BYTES)
        throw new AppError("PAYLOAD_TOO_LARGE", `JSON body is larger than ${MAX_JSON_BYTES} bytes`);
      chunks.push(chunk);
    }
  }
  markBodyRead(req);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError("VALIDATION_ERROR", "Request body is not valid JSON");
  }
}
