// Deno adapter: node:sqlite for the database, Deno.serve for HTTP.
import { DatabaseSync } from "node:sqlite";
import type { ConnectOptions, Connection, Runtime, SqliteDatabase } from "./types.ts";

declare const Deno: any;

const bind = (params: ReadonlyArray<unknown>) => params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p)) as any[];

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

/** Deno.connect, then startTls for https: every read is one the consumer asked for. */
async function connect(o: ConnectOptions): Promise<Connection> {
  let conn = await Deno.connect({ hostname: o.address, port: o.port });
  if (o.tls) {
    try {
      conn = await Deno.startTls(conn, {
        hostname: o.tls.serverName ?? o.address,
        caCerts: o.tls.ca,
        alpnProtocols: ["http/1.1"],
      });
      await conn.handshake();
    } catch (err) {
      try {
        conn.close();
      } catch {}
      throw new Error(`the TLS handshake failed: ${(err as Error).message}`);
    }
  }
  let failure: Error | null = null;
  const close = (reason?: Error) => {
    failure ??= reason ?? new Error("the connection was closed");
    try {
      conn.close();
    } catch {}
  };
  let received = 0;
  async function* read(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const buf = new Uint8Array(64 * 1024);
        let n: number | null;
        try {
          n = await conn.read(buf);
        } catch (err) {
          throw failure ?? err;
        }
        if (n === null) return;
        received += n;
        if (received > (o.maxRead ?? Number.POSITIVE_INFINITY)) {
          throw Object.assign(new Error(`more than ${o.maxRead} bytes arrived`), { code: "READ_LIMIT" });
        }
        yield buf.subarray(0, n);
      }
    } finally {
      close();
    }
  }
  return {
    remoteAddress: conn.remoteAddr.hostname,
    readable: { [Symbol.asyncIterator]: read },
    async write(data) {
      for (let off = 0; off < data.length; ) off += await conn.write(data.subarray(off));
    },
    close,
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
      (req: Request, info: { remoteAddr: { hostname: string } }) =>
        fetch(req, { remoteAddress: info.remoteAddr.hostname }),
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
  connect,
};
