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

export interface ConnectOptions {
  /** An address literal the caller has resolved and checked: no name is resolved again. */
  address: string;
  port: number;
  /** TLS: the certificate must chain to a trusted root (or to `ca`) and name `serverName`. */
  tls?: { serverName?: string; ca?: string[] };
  /**
   * The most bytes to take from the network: past it the connection is closed and the read
   * fails with an error whose `code` is "READ_LIMIT". Pausing alone cannot bound what Bun reads.
   */
  maxRead?: number;
}

/** A client TCP (or TLS) connection whose bytes are read off the network only on demand. */
export interface Connection {
  readonly remoteAddress: string;
  /** What arrives, read only as fast as it is consumed; returning early closes the connection. */
  readonly readable: AsyncIterable<Uint8Array>;
  write(data: Uint8Array): Promise<void>;
  /** Closes at once: unread bytes are dropped and a pending read fails with `reason`. */
  close(reason?: Error): void;
}

export interface Runtime {
  readonly name: "bun" | "deno";
  readonly version: string;
  openSqlite(path: string): SqliteDatabase;
  serve(options: ServeOptions): Promise<Listener>;
  /** A response body streaming a file from disk, as cheaply as the runtime allows. */
  fileBody(path: string): BodyInit;
  /**
   * Opens an outgoing connection (URL import). node:net will not do: under Bun a paused
   * socket keeps reading from the kernel, so a remote body could not be held back.
   */
  connect(options: ConnectOptions): Promise<Connection>;
}
