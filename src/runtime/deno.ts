// Deno adapter: node:sqlite for the database, Deno.serve for HTTP.
import { DatabaseSync } from "node:sqlite";
import type { Runtime, SqliteDatabase } from "./types.ts";

declare const Deno: any;

const bind = (params: ReadonlyArray<unknown>) =>
  params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p)) as any[];

function openSqlite(path: string): SqliteDatabase {
  const db = new DatabaseSync(path);
  const cache = new Map<string, any>();
  return {
    close: () => db.close(),
    prepare(sql) {
      let stmt = cache.get(sql);
      if (!stmt) cache.set(sql, (stmt = db.prepare(sql)));
      return {
        reader: stmt.columns().length > 0,
        all: (p) => stmt.all(...bind(p)),
        run: (p) => stmt.run(...bind(p)),
        iterate: (p) => stmt.iterate(...bind(p)),
      };
    },
  };
}

export const denoRuntime: Runtime = {
  name: "deno",
  version: Deno.version.deno,
  openSqlite,
  async serve({ hostname, port, fetch }) {
    const ready = Promise.withResolvers<{ hostname: string; port: number }>();
    const server = Deno.serve(
      { hostname, port, onListen: (addr: { hostname: string; port: number }) => ready.resolve(addr) },
      (req: Request, info: { remoteAddr: { hostname: string } }) => fetch(req, { remoteAddress: info.remoteAddr.hostname }),
    );
    const addr = await ready.promise;
    return {
      hostname: addr.hostname,
      port: addr.port,
      stop: async (force) => {
        if (force) await server.shutdown?.();
        else await server.shutdown();
      },
    };
  },
  fileBody(path) {
    const file = Deno.openSync(path, { read: true });
    return file.readable;
  },
};
