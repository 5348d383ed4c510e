import * as v from "valibot";
import { AppError } from "../errors.ts";

// The rules of the library fields (tags, namespace, TTL, custom metadata), shared by every
// dialect that sets them: valibot schemas, each run into one error list so a client learns
// every bad field at once.

export const MAX_TAGS = 10;
export const MAX_TAG_LENGTH = 50;
export const NAMESPACE = /^[a-z0-9][a-z0-9-]{1,63}$/;
export const MIN_TTL_S = 5 * 60;
export const MAX_TTL_S = 90 * 86_400;
export const MAX_CUSTOM_FIELDS = 50;
export const MAX_CUSTOM_VALUE = 2_000;
export const MAX_CUSTOM_BYTES = 16 * 1024;
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** Names the system uses; sent as custom fields they are ignored (img.pro's list, plus ours). */
export const RESERVED = new Set([
  "id",
  "name",
  "url",
  "src",
  "width",
  "height",
  "filesize",
  "status",
  "tags",
  "namespace",
  "external_id",
  "date",
  "editable",
  "expires_at",
  "created_at",
  "sizes",
  "public",
  "ttl",
  "file",
  // Also shown by imgd's responses, or meaningful to it.
  "source_url",
  "upgrade",
  "tag_mode",
  "ids",
]);

export class FieldErrors {
  readonly errors: Record<string, string> = {};
  add(field: string, message: string) {
    this.errors[field] ??= message;
  }
  get empty() {
    return Object.keys(this.errors).length === 0;
  }
  /** Throws one validation error naming every bad field. */
  throwIfAny() {
    if (this.empty) return;
    const [field, message] = Object.entries(this.errors)[0];
    const more = Object.keys(this.errors).length - 1;
    throw new AppError("VALIDATION_ERROR", `${field}: ${message}${more ? ` (and ${more} more)` : ""}`, {
      field,
      errors: this.errors,
    });
  }
}

/** Runs one field's schema; its first issue goes to the error list under `field`. */
function field<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  e: FieldErrors,
  name: string,
): v.InferOutput<S> | undefined {
  const r = v.safeParse(schema, input, { abortPipeEarly: true });
  if (r.success) return r.output;
  e.add(name, r.issues[0].message);
  return undefined;
}

const normalizeTag = (t: string) => t.normalize("NFKC").trim().replace(/\s+/g, " ").toLowerCase();

/** Comma-separated text or an array; trimmed, lowercased, inner spaces collapsed, deduplicated. */
export const Tags = v.pipe(
  v.union(
    [
      v.pipe(
        v.string(),
        v.transform((s) => s.split(",") as unknown[]),
      ),
      v.array(v.unknown()),
    ],
    "must be a comma-separated string or an array of strings",
  ),
  v.check((list) => list.every((t) => typeof t === "string"), "each tag must be a string"),
  v.transform((list) => (list as string[]).map(normalizeTag).filter(Boolean)),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    // Tag by tag, in order: the first bad one is the one reported.
    for (const tag of dataset.value) {
      if (tag.length > MAX_TAG_LENGTH)
        return addIssue({
          message: `each tag must be at most ${MAX_TAG_LENGTH} characters ('${tag.slice(0, 20)}…' has ${tag.length})`,
        });
      if (/[\u0000-\u001f\u007f,]/.test(tag))
        return addIssue({ message: "tags must not contain control characters or commas" });
    }
  }),
  v.transform((tags) => [...new Set(tags)]),
  v.check(
    (tags) => tags.length <= MAX_TAGS,
    (issue) => `at most ${MAX_TAGS} tags (got ${(issue.input as string[]).length})`,
  ),
);

const NAMESPACE_RULE =
  "must be 2–64 characters: lowercase letters, digits and hyphens, starting with a letter or digit";
export const Namespace = v.pipe(v.string(NAMESPACE_RULE), v.regex(NAMESPACE, NAMESPACE_RULE));

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const TTL_FORM = "must be a number of seconds or a duration such as 5m, 12h or 7d";

/** Seconds ("3600") or a duration ("5m", "12h", "7d"), from 5 minutes to 90 days. */
export const Ttl = v.pipe(
  v.union([v.pipe(v.number(), v.transform(String)), v.string()], TTL_FORM),
  v.transform((text) => text.trim()),
  v.regex(/^(\d{1,10})([smhdw]?)$/, TTL_FORM),
  v.transform((text) => {
    const m = /^(\d{1,10})([smhdw]?)$/.exec(text)!;
    return Number(m[1]) * UNIT_S[m[2] || "s"];
  }),
  v.minValue(MIN_TTL_S, "must be from 5 minutes (300) to 90 days (90d)"),
  v.maxValue(MAX_TTL_S, "must be from 5 minutes (300) to 90 days (90d)"),
);

const DATE_RULE = "must be a date such as 2024-01-15 (or an ISO 8601 date-time)";
/** A date as YYYY-MM-DD or an ISO 8601 date-time; kept as sent. */
export const DateText = v.pipe(
  v.string(DATE_RULE),
  v.maxLength(40, DATE_RULE),
  v.regex(/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/, DATE_RULE),
  v.check((s) => !Number.isNaN(Date.parse(s)), DATE_RULE),
);

/** Non-empty text of at most `max` characters, without control characters. */
export const Text = (max: number) =>
  v.pipe(
    v.string("must be a non-empty string"),
    v.check((s) => s.trim() !== "", "must be a non-empty string"),
    v.maxLength(max, `must be at most ${max} characters`),
    v.check((s) => !/[\u0000-\u001f\u007f]/.test(s), "must not contain control characters"),
  );

const BOOL_RULE = "must be true or false";
/** true/false, also as the text a form sends ("true", "false", "1", "0"). */
export const Bool = v.union(
  [
    v.boolean(),
    v.pipe(
      v.string(),
      v.transform((s) => s.trim().toLowerCase()),
      v.picklist(["true", "false", "1", "0"], BOOL_RULE),
      v.transform((s) => s === "true" || s === "1"),
    ),
  ],
  BOOL_RULE,
);

export const parseTags = (input: unknown, e: FieldErrors, name = "tags"): string[] | undefined =>
  field(Tags, input, e, name);
export const parseNamespace = (input: unknown, e: FieldErrors, name = "namespace"): string | undefined =>
  field(Namespace, input, e, name);
export const parseTtl = (input: unknown, e: FieldErrors, name = "ttl"): number | undefined =>
  field(Ttl, input, e, name);
export const parseDate = (input: unknown, e: FieldErrors, name = "date"): string | undefined =>
  field(DateText, input, e, name);
export const parseText = (input: unknown, e: FieldErrors, name: string, max: number): string | undefined =>
  field(Text(max), input, e, name);
export const parseBool = (input: unknown, e: FieldErrors, name: string): boolean | undefined =>
  field(Bool, input, e, name);

/**
 * Custom fields: every name not reserved; values are strings, numbers or booleans (`null`
 * only where `allowNull`, meaning "remove"). Bounded in count and size.
 */
export function parseCustom(
  fields: Record<string, unknown>,
  e: FieldErrors,
  allowNull: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (RESERVED.has(name)) continue;
    if (!FIELD_NAME.test(name) || name === "__proto__" || name === "constructor" || name === "prototype") {
      e.add(name, "custom field names are 1–64 letters, digits, '_', '.' or '-', starting with a letter");
      continue;
    }
    if (value === null && allowNull) out[name] = null;
    else if (typeof value === "string") {
      if (value.length > MAX_CUSTOM_VALUE) e.add(name, `custom fields hold at most ${MAX_CUSTOM_VALUE} characters`);
      else out[name] = value;
    } else if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean") out[name] = value;
    else e.add(name, "custom fields must be strings, numbers or booleans");
  }
  if (Object.keys(out).length > MAX_CUSTOM_FIELDS) e.add("metadata", `at most ${MAX_CUSTOM_FIELDS} custom fields`);
  return out;
}

/** Merges a patch into stored metadata (null removes) and checks the result's size. */
export function mergeCustom(
  stored: Record<string, unknown>,
  patch: Record<string, unknown>,
  e: FieldErrors,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...stored };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  checkCustomSize(out, e);
  return out;
}

export function checkCustomSize(meta: Record<string, unknown>, e: FieldErrors) {
  if (Object.keys(meta).length > MAX_CUSTOM_FIELDS) e.add("metadata", `at most ${MAX_CUSTOM_FIELDS} custom fields`);
  else if (new TextEncoder().encode(JSON.stringify(meta)).length > MAX_CUSTOM_BYTES)
    e.add("metadata", `custom fields may hold at most ${MAX_CUSTOM_BYTES} bytes in all`);
}

/** An image's stored custom fields (its `metadata` column), tolerant of a bad value. */
export function customFieldsOf(stored: unknown): Record<string, unknown> {
  return stored && typeof stored === "object" && !Array.isArray(stored) ? (stored as Record<string, unknown>) : {};
}
