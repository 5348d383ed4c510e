import { getRandomValues } from "node:crypto";
import type { Kysely } from "kysely";
import type { Db } from "../../db/connection.ts";
import type { Database } from "../../db/schema.ts";

// The outbox's writing side: a use case tells of a change inside the transaction that makes
// it, and the event's rows (one per endpoint of the tenant that wants it) commit or roll back
// with the change. The dispatcher (dispatcher.ts) delivers them. A change made outside a
// transaction (a purge of cached variants) emits on the connection itself: `emit(db, …)`.

export const EVENT_TYPES = [
  "image.created",
  "image.updated",
  "image.deleted",
  "image.visibility_changed",
  "variant.purged",
  "quota.warning",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** What an event says; `id` is the image's id (events of one image to one endpoint go out in order). */
export type EventData = { id: string } & Record<string, unknown>;

/** A connection or an open transaction. */
type Executor = Kysely<Database>;

export interface EventsDeps {
  db: Db;
  now: () => number;
  /** Where delivery URLs start: IMGD_PUBLIC_URL, else the base path (the URL is then relative). */
  base: string;
  /** Something was written to the outbox: the dispatcher looks soon (after the commit). */
  wake: () => void;
}

export class Events {
  #lastMs = 0;
  #counter = 0;

  constructor(private readonly d: EventsDeps) {}

  /**
   * Writes the event for each of the tenant's endpoints that asked for it, inside `trx` (the
   * transaction of the change). A tenant without endpoints costs one indexed read.
   */
  async emit(trx: Executor, userId: string, type: EventType, data: EventData): Promise<void> {
    const hooks = await trx.selectFrom("webhooks").select(["id", "events"]).where("user_id", "=", userId).execute();
    const wanting = hooks.filter((h) => parseEvents(h.events).includes(type));
    if (wanting.length === 0) return;
    if (typeof data.path === "string" && data.url === undefined)
      data = { ...data, url: await this.#urlOf(trx, userId, data.path) };
    const now = this.d.now();
    const messageId = `msg_${this.orderedId(now).replaceAll("-", "")}`;
    const payload = JSON.stringify({ type, timestamp: new Date(now).toISOString(), data });
    await trx
      .insertInto("webhook_deliveries")
      .values(
        wanting.map((h) => ({
          id: this.orderedId(now),
          webhook_id: h.id,
          user_id: userId,
          message_id: messageId,
          type,
          order_key: data.id,
          payload,
          status: "pending" as const,
          attempts: 0,
          next_at: now,
          last_status: null,
          last_error: null,
          created_at: now,
          finished_at: null,
        })),
      )
      .execute();
    this.d.wake();
  }

  async #urlOf(trx: Executor, userId: string, path: string) {
    const user = await trx.selectFrom("users").select("username").where("id", "=", userId).executeTakeFirst();
    const encoded = path.split("/").map(encodeURIComponent).join("/");
    return user ? `${this.d.base}/i/${encodeURIComponent(user.username)}/${encoded}` : undefined;
  }

  /**
   * A UUIDv7 whose order is the order of the calls in this process, within one millisecond
   * too (RFC 9562's counter in place of the first random bits): two events of one image in one
   * transaction keep their order.
   */
  orderedId(now: number): string {
    if (now > this.#lastMs) {
      this.#lastMs = now;
      this.#counter = 0;
    } else if (++this.#counter > 0xfff) {
      this.#lastMs++;
      this.#counter = 0;
    }
    const b = new Uint8Array(16);
    getRandomValues(b);
    let t = this.#lastMs;
    for (let i = 5; i >= 0; i--) {
      b[i] = t % 256;
      t = Math.floor(t / 256);
    }
    b[6] = 0x70 | (this.#counter >> 8);
    b[7] = this.#counter & 0xff;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
}

/** The stored list of an endpoint's event types (tolerant of a bad value). */
export function parseEvents(stored: string): EventType[] {
  try {
    const list = JSON.parse(stored);
    return Array.isArray(list) ? list.filter((e): e is EventType => EVENT_TYPES.includes(e)) : [];
  } catch {
    return [];
  }
}

/** What an image event tells of the image: its id, where it is and what it is. */
export function imageData(image: {
  id: string;
  paths?: string[];
  visibility: string;
  format: string;
  width: number;
  height: number;
  size: number;
}): EventData {
  const path = image.paths?.[0];
  return {
    id: image.id,
    ...(path !== undefined ? { path, paths: image.paths } : {}),
    visibility: image.visibility,
    format: image.format,
    width: image.width,
    height: image.height,
    size: image.size,
  };
}
