import { Database } from "bun:sqlite";
import type { Runtime, SqliteDatabase } from "./types.ts";

const bind = (params: ReadonlyArray<unknown>) =>
  params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p)) as any[];

function openSqlite(path: string): SqliteDatabase {
  const db = new Database(path, { create: true });
  return {
    close: () => db.close(),
    prepare(sql) {
      // query() caches the compiled statement by its SQL text: Kysely repeats the same texts.
      const stmt = db.query(sql);
      return {
        reader: stmt.columnNames.length > 0,
        all: (p) => stmt.all(...bind(p)),
        run: (p) => stmt.run(...bind(p)),
        iterate: (p) => stmt.iterate(...bind(p)),
      };
    },
  };
}

export const bunRuntime: Runtime = {
  name: "bun",
  version: Bun.version,
  openSqlite,
  async serve({ hostname, port, fetch, maxRequestBodySize }) {
    const server = Bun.serve({
      hostname,
      port,
      maxRequestBodySize,
      // Uploads of tens of megabytes over slow links must not be cut at Bun's 10 s default.
      idleTimeout: 120,
      fetch: (req, srv) => fetch(req, { remoteAddress: srv.requestIP(req)?.address ?? "" }),
    });
    return {
      hostname: server.hostname ?? hostname,
      port: server.port ?? port,
      stop: (force) => server.stop(force ?? false),
    };
  },
  fileBody: (path) => Bun.file(path),
};
