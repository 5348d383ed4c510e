import type { Config } from "../../config.ts";
import type { Db } from "../../db/connection.ts";
import type { Runtime } from "../../runtime/index.ts";
import type { VariantIndex } from "../../store/variant-index.ts";
import { parseCidrList } from "../fetcher/addresses.ts";
import { Fetcher, type Pins } from "../fetcher/fetcher.ts";
import type { OwnHosts } from "../site/hosts.ts";
import { CdnPurge, type PurgeShape } from "./cdn-purge.ts";
import { Purge, type PurgeDeps } from "./purge.ts";

export interface OpenPurgeDeps {
  config: Config;
  db: Db;
  variants: VariantIndex;
  runtime: Runtime;
  resolve: (host: string) => Promise<{ address: string; family: number }[]>;
  pins: Pins;
  ownHosts: OwnHosts;
  onChanged: (userId: string) => void;
  /** An image was purged: where the `variant.purged` event is to be emitted. */
  onPurged?: PurgeDeps["onPurged"];
  log: (line: string) => void;
}

/** The purge use case with its CDN hook as the settings describe it (IMGD_PURGE…). */
export function openPurge(d: OpenPurgeDeps): Purge {
  const { config } = d;
  const shape: PurgeShape | null = config.purge !== "off" ? config.purge : config.purgeUrl !== undefined ? "url" : null;
  // Its own fetcher: what the hook may reach is not what URL imports may reach.
  const fetcher = new Fetcher({
    allow: parseCidrList(config.purgeAllowNetworks),
    timeoutMs: config.importTimeoutMs,
    connect: d.runtime.connect,
    pins: d.pins,
    resolve: d.resolve,
  });
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
    onPurged: d.onPurged,
    log: d.log,
    now: config.now,
  });
}
