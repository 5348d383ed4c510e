import pg from "pg";

/**
 * The PostgreSQL server the tests use (IMGD_TEST_POSTGRES_URL; `.ci/run` starts Debian's
 * package with this role). Each test server gets a database of its own, made here and dropped
 * when it stops.
 */
export const POSTGRES_URL = process.env.IMGD_TEST_POSTGRES_URL ?? "postgres://imgd:imgd@127.0.0.1:5432/postgres";

/** Database names the tests make start with this (scripts/test-postgres.ts clears leftovers). */
export const TEST_DATABASE_PREFIX = "imgd_test_";

/** SQL on the server's maintenance database. */
export async function admin<T = unknown>(text: string, params: unknown[] = [], url = POSTGRES_URL): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

export interface TestDatabase {
  url: string;
  name: string;
  drop: () => Promise<void>;
}

/**
 * A new empty database. Byte-order collation ("C"), as SQLite compares text, so both
 * databases sort names the same way.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `${TEST_DATABASE_PREFIX}${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  await admin(`create database ${name} template template0 encoding 'UTF8' lc_collate 'C' lc_ctype 'C'`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      await admin(`drop database if exists ${name} with (force)`);
    },
  };
}
