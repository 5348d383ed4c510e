import type { Selectable } from "kysely";
import type { Db } from "../../db/connection.ts";
import type { WebhookDeliveriesTable } from "../../db/schema.ts";
import { AppError, invalid, notFound } from "../errors.ts";
import { type Cidr, checkAddress, parseAddress } from "../fetcher/addresses.ts";
import { Fetcher } from "../fetcher/fetcher.ts";
import { newId } from "../ids.ts";
import { EVENT_TYPES, type EventType, type Events, parseEvents } from "./events.ts";
import { newSecret } from "./signature.ts";

// A tenant's webhook endpoints and what was delivered to them. An endpoint is the tenant's
// own: another tenant's id is "not found", never "forbidden".

export const MAX_ENDPOINTS = 20;
export const MAX_URL_LENGTH = 2000;

export interface Endpoint {
  id: string;
  url: string;
  events: EventType[];
  createdAt: number;
}

export type DeliveryRow = Selectable<WebhookDeliveriesTable>;

export interface EndpointsDeps {
  db: Db;
  now: () => number;
  /** IMGD_WEBHOOK_ALLOW_NETWORKS: what an address literal may be although not public. */
  allow: Cidr[];
  /** Orders a redelivery's id after every earlier one. */
  events: Events;
  wake: () => void;
}

export class Endpoints {
  constructor(private readonly d: EndpointsDeps) {}

  /** Registers an endpoint; its secret is answered here only. */
  async create(userId: string, input: { url: string; events: EventType[] }): Promise<Endpoint & { secret: string }> {
    const url = this.#checkUrl(input.url);
    const events = [...new Set(input.events)].filter((e) => EVENT_TYPES.includes(e));
    if (events.length === 0) throw invalid("events", "must name at least one event");
    const { n } = await this.d.db
      .selectFrom("webhooks")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("user_id", "=", userId)
      .executeTakeFirstOrThrow();
    if (Number(n) >= MAX_ENDPOINTS) throw invalid("url", `at most ${MAX_ENDPOINTS} webhook endpoints per account`);
    const now = this.d.now();
    const row = {
      id: newId(now),
      user_id: userId,
      url,
      events: JSON.stringify(events),
      secret: newSecret(),
      created_at: now,
    };
    await this.d.db.insertInto("webhooks").values(row).execute();
    return { id: row.id, url, events, createdAt: now, secret: row.secret };
  }

  async list(userId: string): Promise<Endpoint[]> {
    const rows = await this.d.db
      .selectFrom("webhooks")
      .select(["id", "url", "events", "created_at"])
      .where("user_id", "=", userId)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(endpointOf);
  }

  async get(userId: string, id: string): Promise<Endpoint> {
    const row = await this.d.db
      .selectFrom("webhooks")
      .select(["id", "url", "events", "created_at"])
      .where("user_id", "=", userId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw notFound("Webhook");
    return endpointOf(row);
  }

  /** Removes the endpoint and its deliveries (pending ones are not sent). */
  async delete(userId: string, id: string): Promise<void> {
    await this.get(userId, id);
    await this.d.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("webhook_deliveries").where("webhook_id", "=", id).execute();
      await trx.deleteFrom("webhooks").where("id", "=", id).where("user_id", "=", userId).execute();
    });
  }

  /** The endpoint's most recent deliveries, newest first. */
  async deliveries(userId: string, id: string, limit: number): Promise<DeliveryRow[]> {
    await this.get(userId, id);
    return this.d.db
      .selectFrom("webhook_deliveries")
      .selectAll()
      .where("webhook_id", "=", id)
      .where("user_id", "=", userId)
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
  }

  /**
   * Sends a delivery's event again, as a new delivery with the same `webhook-id` (a receiver
   * that already has it may tell). One still pending is a conflict: it is on its way.
   */
  async redeliver(userId: string, id: string, deliveryId: string): Promise<DeliveryRow> {
    await this.get(userId, id);
    const old = await this.d.db
      .selectFrom("webhook_deliveries")
      .selectAll()
      .where("id", "=", deliveryId)
      .where("webhook_id", "=", id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    if (!old) throw notFound("Delivery");
    if (old.status === "pending") throw new AppError("CONFLICT", "This delivery is still pending; it is on its way");
    const now = this.d.now();
    const row: DeliveryRow = {
      ...old,
      id: this.d.events.orderedId(now),
      status: "pending",
      attempts: 0,
      next_at: now,
      last_status: null,
      last_error: null,
      created_at: now,
      finished_at: null,
    };
    await this.d.db.insertInto("webhook_deliveries").values(row).execute();
    this.d.wake();
    return row;
  }

  /** http(s), a host, no credentials; an address literal must be one deliveries may reach. */
  #checkUrl(raw: string): string {
    if (raw.length > MAX_URL_LENGTH) throw invalid("url", `must be at most ${MAX_URL_LENGTH} characters`);
    let url: URL;
    try {
      url = Fetcher.parseUrl(raw);
    } catch (err) {
      throw err instanceof AppError
        ? invalid("url", err.message.replace(/^url: /, "").replace("imported", "used"))
        : err;
    }
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (parseAddress(host)) {
      const why = checkAddress(host, this.d.allow);
      if (why) throw invalid("url", `refused: ${host} is ${why} (IMGD_WEBHOOK_ALLOW_NETWORKS allows such ranges)`);
    } else if (/^localhost$|\.localhost$/i.test(host.replace(/\.+$/, ""))) {
      throw invalid("url", "refused: localhost is a loopback name");
    }
    return url.href;
  }
}

function endpointOf(row: { id: string; url: string; events: string; created_at: number }): Endpoint {
  return { id: row.id, url: row.url, events: parseEvents(row.events), createdAt: Number(row.created_at) };
}
