import { sql } from "kysely";
import pg from "pg";
import type { Db } from "./connection.ts";

/** A change other nodes must hear of: what they remember of it is wrong from now on. */
export type Change =
  /** A tenant's images, presets or settings changed. */
  | { kind: "user"; id: string }
  /** These variants are gone. */
  | { kind: "variants"; keys: string[] }
  /** Changes may have been missed (the listener reconnected): forget everything. */
  | { kind: "all" };

/**
 * Tells every other node of changes. On PostgreSQL through LISTEN/NOTIFY (one connection that
 * listens, notices sent through the pool); on SQLite there is one node and nothing to tell.
 */
export interface Bus {
  publish(change: Change): void;
  /** Hears changes made by other nodes (never this node's own). */
  subscribe(fn: (change: Change) => void): void;
  close(): Promise<void>;
}

export const localBus = (): Bus => ({ publish() {}, subscribe() {}, close: async () => {} });

/**
 * The bus as this node's own parts share it: a change published here is heard here too, then
 * by the other nodes. The library and the variant index tell what changed; whatever remembers
 * answers (delivery's caches) listens, and neither needs the other built first.
 */
export function withLocalEcho(bus: Bus): Bus {
  const listeners: ((c: Change) => void)[] = [];
  const hear = (c: Change) => {
    for (const fn of listeners) fn(c);
  };
  bus.subscribe(hear);
  return {
    publish(change) {
      hear(change);
      bus.publish(change);
    },
    subscribe: (fn) => void listeners.push(fn),
    close: () => bus.close(),
  };
}

const CHANNEL = "imgd_changes";
// NOTIFY payloads are limited to 8000 bytes; variant keys go in batches well under that.
const KEYS_PER_NOTICE = 60;
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 800;

export async function openPostgresBus(db: Db, url: string, node: string, log: (line: string) => void): Promise<Bus> {
  const listeners: ((c: Change) => void)[] = [];
  let client: pg.Client | null = null;
  let closed = false;
  let retry: ReturnType<typeof setTimeout> | null = null;
  const deliver = (c: Change) => {
    for (const fn of listeners) fn(c);
  };

  const connect = async (first: boolean) => {
    const c = new pg.Client({
      connectionString: url,
      application_name: "imgd-listen",
      // A server that accepts no connection but does not refuse either must not hold up the next try.
      connectionTimeoutMillis: 2000,
    });
    c.on("notification", (msg) => {
      if (!msg.payload) return;
      try {
        const { from, change } = JSON.parse(msg.payload) as { from: string; change: Change };
        if (from !== node) deliver(change);
      } catch {
        // Not ours: ignore.
      }
    });
    const lost = (why: string) => {
      if (client !== c || closed) return;
      client = null;
      log(`change listener lost its connection (${why}); reconnecting`);
      c.end().catch(() => {});
      schedule();
    };
    c.on("error", (err) => lost(err.message));
    c.on("end", () => lost("closed by the server"));
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      c.end().catch(() => {});
      throw err;
    }
    if (closed) {
      c.end().catch(() => {});
      return;
    }
    client = c;
    // Whatever happened while no one listened is unknown: start from nothing.
    if (!first) deliver({ kind: "all" });
  };
  // Back-off between attempts: quick at first (a restart takes seconds), never more than a
  // second apart, so the node hears changes again within a second of the server's return.
  let delay = RETRY_MIN_MS;
  const schedule = () => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = null;
      connect(false).then(
        () => {
          delay = RETRY_MIN_MS;
          log("change listener reconnected; forgetting what may have changed meanwhile");
        },
        (err) => {
          if (delay === RETRY_MIN_MS) log(`change listener: ${(err as Error).message}; retrying`);
          delay = Math.min(RETRY_MAX_MS, delay * 2);
          schedule();
        },
      );
    }, delay);
  };
  await connect(true);

  const send = (change: Change) => {
    const payload = JSON.stringify({ from: node, change });
    sql`select pg_notify(${CHANNEL}, ${payload})`
      .execute(db)
      .catch((err) => log(`change notice not sent: ${(err as Error).message}`));
  };
  return {
    publish(change) {
      if (change.kind !== "variants") return send(change);
      for (let i = 0; i < change.keys.length; i += KEYS_PER_NOTICE) {
        send({ kind: "variants", keys: change.keys.slice(i, i + KEYS_PER_NOTICE) });
      }
    },
    subscribe(fn) {
      listeners.push(fn);
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
