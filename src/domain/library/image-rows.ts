import { type Kysely, sql } from "kysely";
import type { Database, Image } from "../../db/schema.ts";

// What every image use case (ingest, library queries, removal) reads the same way: an image row
// with its paths and tags, and the filter that hides expired images.

export type Visibility = "public" | "private";

export interface ImageRecord extends Image {
  paths: string[];
  tags: string[];
}

/** Expired images are gone from every route at once, before any sweeper runs. */
export function live<Q extends { where: (...a: any[]) => Q }>(q: Q, now: number): Q {
  return q.where((eb: any) => eb.or([eb("images.expires_at", "is", null), eb("images.expires_at", ">", now)]));
}

export async function attachPaths(db: Kysely<Database>, rows: Image[]): Promise<ImageRecord[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const paths = await db
    .selectFrom("image_paths")
    .select(["image_id", "path"])
    .where("image_id", "in", ids)
    .orderBy("created_at")
    .orderBy("path")
    .execute();
  const tagRows = await db
    .selectFrom("image_tags")
    .select(["image_id", "tag"])
    .where("image_id", "in", ids)
    .orderBy("tag")
    .execute();
  const byImage = group(paths.map((p) => [p.image_id, p.path]));
  const tags = group(tagRows.map((t) => [t.image_id, t.tag]));
  return rows.map((r) => ({ ...r, paths: byImage.get(r.id) ?? [], tags: tags.get(r.id) ?? [] }));
}

export async function withPaths(db: Kysely<Database>, image: Image): Promise<ImageRecord> {
  return (await attachPaths(db, [image]))[0];
}

function group(pairs: [string, string][]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [k, v] of pairs) {
    if (!out.has(k)) out.set(k, []);
    out.get(k)!.push(v);
  }
  return out;
}

export function escapeLike(s: string) {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** LIKE with an explicit escape character (SQLite has none by default; PostgreSQL agrees on this form). */
export function like(column: string, pattern: string, caseInsensitive = false) {
  const col = caseInsensitive ? sql`lower(${sql.ref(column)})` : sql.ref(column);
  return sql<boolean>`${col} like ${pattern} escape '\\'`;
}
