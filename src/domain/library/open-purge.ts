import type { Config } from "../../config.ts";
import type { Db } from "../../db/connection.ts";
import type { VariantIndex } from "../../store/variant-index.ts";
import type { FetcherFor } from "../fetcher/index.ts";
import type { OwnHosts } from "../site/hosts.ts";
import { CdnPurge, type PurgeShape } from "./cdn-purge.ts";
import { Purge, type PurgeDeps } from "./purge.ts";

export interface OpenPurgeDeps {
  config: Config;
  db: Db;
  variants: VariantIndex;
  fetcherFor: FetcherFor;
  ownHosts: OwnHosts;
  onChanged: (userId: string) => void;
  events?: PurgeDeps["events"];
  log: (line: string) => void;
}

/** The purge use case with its CDN hook as the settings describe it (IMGD_PURGE…). */
export function openPurge(d: OpenPurgeDeps): Purge {
  const { config } = d;
  const shape: PurgeShape | null = config.purge !== "off" ? config.purge : config.purgeUrl !== undefined ? "url" : null;
  // Its own fetcher: what the hook may reach is not what URL imports may reach.
  const fetcher = d.fetcherFor(config.purgeAllowNetworks, config.importTimeoutMs);
  const cdn = shape
    ? new CdnPurge(
        {
          shape,
          url: config.purgeUrl,
          body: config.purgeBody,
          headers: config.purgeHeaders ? (JSON.parse(config.purgeHeaders) as Record<string, string>) : undefined,
          token: config.purgeToken,
          zone: config.purgeZone,
        },
        (url, req) => fetcher.send(url, req),
      )
    : undefined;
  return new Purge({
    db: d.db,
    variants: d.variants,
    onChanged: d.onChanged,
    cdn,
    // Without a request to take it from: IMGD_PUBLIC_URL, else the listening address.
    base: () => d.ownHosts.base("http://localhost/"),
    events: d.events,
    log: d.log,
    now: config.now,
  });
}
