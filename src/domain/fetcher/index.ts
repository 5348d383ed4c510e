import type { Config } from "../../config.ts";
import type { ConnectOptions, Connection } from "../../runtime/types.ts";
import { parseCidrList } from "./addresses.ts";
import { dnsOf } from "./dns.ts";
import { Fetcher, parsePins } from "./fetcher.ts";

/** Makes a fetcher for one purpose: its own allowed networks and time limit, the one DNS and pins. */
export type FetcherFor = (allowNetworks: string, timeoutMs: number) => Fetcher;

/**
 * How one instance reaches other hosts: the resolver (IMGD_DNS_SERVERS, IMGD_RESOLVE pins) and
 * the SSRF-safe fetcher of URL imports and watermarks; other purposes (webhooks) make their own
 * with `fetcherFor`, on the networks their setting allows.
 */
export function openNetwork(
  config: Pick<Config, "dnsServers" | "resolve" | "importAllowNetworks" | "importTimeoutMs">,
  connect: (options: ConnectOptions) => Promise<Connection>,
) {
  const dns = dnsOf(config.dnsServers);
  const pins = parsePins(config.resolve);
  const fetcherFor: FetcherFor = (allowNetworks, timeoutMs) =>
    new Fetcher({ allow: parseCidrList(allowNetworks), timeoutMs, connect, pins, resolve: dns.addresses });
  return { dns, fetcher: fetcherFor(config.importAllowNetworks, config.importTimeoutMs), fetcherFor };
}
