// The only runtime-specific surface: everything else in imgd is web-standard or node:*.

/** The driver interface Kysely's SQLite dialect expects (better-sqlite3's shape). */
export interface SqliteDatabase {
  close(): void;
  prepare(sql: string): SqliteStatement;
}
export interface SqliteStatement {
  readonly reader: boolean;
  all(parameters: ReadonlyArray<unknown>): unknown[];
  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown>;
}

export interface ServeOptions {
  hostname: string;
  port: number;
  fetch: (req: Request, info: { remoteAddress: string }) => Response | Promise<Response>;
  /** Largest request body the listener accepts before the app sees it. */
  maxRequestBodySize: number;
}

export interface Listener {
  readonly hostname: string;
  readonly port: number;
  /** Stops accepting; resolves when in-flight requests are done (or at once if `force`). */
  stop(force?: boolean): Promise<void>;
}

export interface Runtime {
  readonly name: "bun" | "deno";
  readonly version: string;
  openSqlite(path: string): SqliteDatabase;
  serve(options: ServeOptions): Promise<Listener>;
  /** A response body streaming a file from disk, as cheaply as the runtime allows. */
  fileBody(path: string): BodyInit;
}
