import { AppError } from "./errors.ts";

// The rules of the library fields (tags, namespace, TTL, custom metadata), shared by every
// dialect that sets them. Each check reports into one error list so a client learns every
// bad field at once.

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
  "id", "name", "url", "src", "width", "height", "filesize", "status", "tags", "namespace", "external_id", "date",
  "editable", "expires_at", "created_at", "sizes", "public", "ttl", "file",
  // Also shown by imgd's responses, or meaningful to it.
  "source_url", "upgrade", "tag_mode", "ids",
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
    throw new AppError("VALIDATION_ERROR", `${field}: ${message}${more ? ` (and ${more} more)` : ""}`, { field, errors: this.errors });
  }
}

/** Comma-separated text or an array; trimmed, lowercased, inner spaces collapsed, deduplicated. */
export function parseTags(input: unknown, e: FieldErrors, field = "tags"): string[] | undefined {
  let list: unknown[];
  if (typeof input === "string") list = input.split(",");
  else if (Array.isArray(input)) list = input;
  else return void e.add(field, "must be a comma-separated string or an array of strings");
  const tags: string[] = [];
  for (const t of list) {
    if (typeof t !== "string") return void e.add(field, "each tag must be a string");
    const tag = t.normalize("NFKC").trim().replace(/\s+/g, " ").toLowerCase();
    if (!tag) continue;
    if (tag.length > MAX_TAG_LENGTH) return void e.add(field, `each tag must be at most ${MAX_TAG_LENGTH} characters ('${tag.slice(0, 20)}…' has ${tag.length})`);
    if (/[\u0000-\u001f\u007f,]/.test(tag)) return void e.add(field, "tags must not contain control characters or commas");
    if (!tags.includes(tag)) tags.push(tag);
  }
  if (tags.length > MAX_TAGS) return void e.add(field, `at most ${MAX_TAGS} tags (got ${tags.length})`);
  return tags;
}

export function parseNamespace(input: unknown, e: FieldErrors, field = "namespace"): string | undefined {
  if (typeof input !== "string" || !NAMESPACE.test(input)) {
    return void e.add(field, "must be 2–64 characters: lowercase letters, digits and hyphens, starting with a letter or digit");
  }
  return input;
}

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Seconds ("3600") or a duration ("5m", "12h", "7d"), from 5 minutes to 90 days. */
export function parseTtl(input: unknown, e: FieldErrors, field = "ttl"): number | undefined {
  const text = typeof input === "number" ? String(input) : input;
  const m = typeof text === "string" ? /^(\d{1,10})([smhdw]?)$/.exec(text.trim()) : null;
  if (!m) return void e.add(field, "must be a number of seconds or a duration such as 5m, 12h or 7d");
  const seconds = Number(m[1]) * UNIT_S[m[2] || "s"];
  if (seconds < MIN_TTL_S || seconds > MAX_TTL_S) return void e.add(field, "must be from 5 minutes (300) to 90 days (90d)");
  return seconds;
}

/** A date as YYYY-MM-DD or an ISO 8601 date-time; kept as sent. */
export function parseDate(input: unknown, e: FieldErrors, field = "date"): string | undefined {
  if (typeof input !== "string" || input.length > 40 || !/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(input) || Number.isNaN(Date.parse(input))) {
    return void e.add(field, "must be a date such as 2024-01-15 (or an ISO 8601 date-time)");
  }
  return input;
}

export function parseText(input: unknown, e: FieldErrors, field: string, max: number): string | undefined {
  if (typeof input !== "string" || input.trim() === "") return void e.add(field, "must be a non-empty string");
  if (input.length > max) return void e.add(field, `must be at most ${max} characters`);
  if (/[\u0000-\u001f\u007f]/.test(input)) return void e.add(field, "must not contain control characters");
  return input;
}

export function parseBool(input: unknown, e: FieldErrors, field: string): boolean | undefined {
  if (typeof input === "boolean") return input;
  if (typeof input === "string" && ["true", "false", "1", "0"].includes(input.trim().toLowerCase())) return ["true", "1"].includes(input.trim().toLowerCase());
  return void e.add(field, "must be true or false");
}

/**
 * Custom fields: every name not reserved; values are strings, numbers or booleans (`null`
 * only where `allowNull`, meaning "remove"). Bounded in count and size.
 */
export function parseCustom(fields: Record<string, unknown>, e: FieldErrors, allowNull: boolean): Record<string, unknown> {
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
export function mergeCustom(stored: Record<string, unknown>, patch: Record<string, unknown>, e: FieldErrors): Record<string, unknown> {
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
  else if (new TextEncoder().encode(JSON.stringify(meta)).length > MAX_CUSTOM_BYTES) e.add("metadata", `custom fields may hold at most ${MAX_CUSTOM_BYTES} bytes in all`);
}

export function parseMetadata(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text);
    return v && typeof v === "object" && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}
