import { Database } from "bun:sqlite";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import type { ConnectOptions, Connection, Runtime, SqliteDatabase } from "./types.ts";

const bind = (params: ReadonlyArray<unknown>) => params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p)) as any[];

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

/** Bun.connect, paused after every chunk until the next is asked for: the kernel holds the rest. */
async function connect(o: ConnectOptions): Promise<Connection> {
  const queue: Uint8Array[] = [];
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const ready = Promise.withResolvers<void>();
  ready.promise.catch(() => {});
  const fail = (err: Error) => {
    failure ??= err;
    ready.reject(failure);
    notify();
  };
  let received = 0;
  let unsent: Uint8Array = new Uint8Array(0);
  let drained: (() => void) | null = null;
  const socket = await Bun.connect({
    hostname: o.address,
    port: o.port,
    ...(o.tls ? { tls: { serverName: o.tls.serverName, ca: o.tls.ca, rejectUnauthorized: true } } : {}),
    socket: {
      open() {
        if (!o.tls) ready.resolve();
      },
      handshake(s, _ok, authorizationError) {
        // Bun reports a bad certificate here but goes on regardless: the refusal is ours, and so
        // is the check that the certificate names the host.
        const why =
          authorizationError ??
          checkServerIdentity(o.tls?.serverName ?? o.address, s.getPeerCertificate() as PeerCertificate);
        if (why) {
          fail(new Error(`the server's certificate is not valid: ${why.message}`));
          s.terminate();
        } else ready.resolve();
      },
      data(s, chunk) {
        // pause() stops the next read, not the one under way: on resume Bun reads whatever the
        // kernel holds (tens of MiB when the peer floods), so the budget is what really bounds.
        received += chunk.length;
        if (received > (o.maxRead ?? Number.POSITIVE_INFINITY)) {
          fail(Object.assign(new Error(`more than ${o.maxRead} bytes arrived`), { code: "READ_LIMIT" }));
          s.terminate();
          return;
        }
        queue.push(new Uint8Array(chunk));
        s.pause();
        notify();
      },
      drain(s) {
        const n = Math.max(0, s.write(unsent));
        unsent = unsent.subarray(n);
        if (unsent.length === 0) drained?.();
      },
      end() {
        ended = true;
        notify();
      },
      close(_s, err) {
        // A TLS peer's close comes without an 'end' and without an error: that is its end. A
        // close after our own close() already carries the reason (failure is set).
        if (err) fail(err);
        ended = true;
        notify();
      },
      error(_s, err) {
        fail(err);
      },
    },
  });
  await ready.promise;
  return {
    remoteAddress: socket.remoteAddress,
    readable: {
      [Symbol.asyncIterator]: () => ({
        async next(): Promise<IteratorResult<Uint8Array>> {
          for (;;) {
            const chunk = queue.shift();
            if (chunk) return { value: chunk, done: false };
            if (failure) throw failure;
            if (ended) return { value: undefined, done: true };
            const woken = new Promise<void>((r) => (wake = r));
            socket.resume();
            await woken;
          }
        },
        async return(): Promise<IteratorResult<Uint8Array>> {
          socket.terminate();
          return { value: undefined, done: true };
        },
      }),
    },
    async write(data) {
      if (failure) throw failure;
      const n = Math.max(0, socket.write(data));
      if (n === data.length) return;
      unsent = data.subarray(n);
      await new Promise<void>((resolve) => (drained = resolve));
    },
    close(reason) {
      fail(reason ?? new Error("the connection was closed"));
      socket.terminate();
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
  connect,
};
