import type { JSONColumnType } from "kysely";

/** A JSON column with a default: optional on insert. */
export type JsonWithDefault<T extends object> = JSONColumnType<T, string | undefined, string>;
/** A JSON column that may be NULL. */
export type NullableJson<T extends object> = JSONColumnType<T | null, string | null | undefined, string | null>;
