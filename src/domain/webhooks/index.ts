import type { Config } from "../../config.ts";
import type { Db } from "../../db/connection.ts";
import type { Leases } from "../../db/leases.ts";
import { parseCidrList } from "../fetcher/addresses.ts";
import type { FetcherFor } from "../fetcher/index.ts";
import { Dispatcher, retryDelays } from "./dispatcher.ts";
import { Endpoints } from "./endpoints.ts";
import { Events } from "./events.ts";

export { EVENT_TYPES, type EventType, type EventData, imageData } from "./events.ts";
export type { Events } from "./events.ts";
export type { Endpoints, Endpoint, DeliveryRow } from "./endpoints.ts";

type WebhookConfig = Pick<
  Config,
  "webhookAllowNetworks" | "webhookRetryDelays" | "webhookTimeoutMs" | "publicUrl" | "basePath" | "now"
>;

export interface WebhookPlatform {
  db: Db;
  leases: Leases;
  fetcherFor: FetcherFor;
  log: (line: string) => void;
}

/**
 * Webhooks: the outbox writer the use cases emit through, the tenant's endpoints, and the
 * dispatcher delivering through a fetcher of its own (the webhook networks, not the import ones).
 */
export function openWebhooks(config: WebhookConfig, p: WebhookPlatform) {
  const allow = parseCidrList(config.webhookAllowNetworks);
  const fetcher = p.fetcherFor(config.webhookAllowNetworks, config.webhookTimeoutMs);
  const dispatcher = new Dispatcher({
    db: p.db,
    leases: p.leases,
    post: (url, headers, body) => fetcher.send(url, { method: "POST", headers, body }),
    delays: retryDelays(config.webhookRetryDelays),
    now: config.now,
    log: p.log,
    pollMs: 1000,
    // Renewed every third of it while an attempt runs: short, so a dead node's claim soon lapses.
    leaseMs: 10_000,
  });
  const wake = () => dispatcher.wake();
  const events = new Events({ db: p.db, now: config.now, base: config.publicUrl || config.basePath, wake });
  const endpoints = new Endpoints({ db: p.db, now: config.now, allow, events, wake });
  return { events, endpoints, dispatcher };
}
