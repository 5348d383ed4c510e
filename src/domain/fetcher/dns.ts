import { lookup, Resolver, resolveTxt } from "node:dns/promises";

// The name look-ups of imgd's own fetches and custom-domain proofs: the system's resolver, or,
// with IMGD_DNS_SERVERS, only the servers named there (a split-horizon resolver, or a test's
// own server on loopback; /etc/hosts is then not read).

export interface Dns {
  /** Every address of a name (A and AAAA). */
  addresses: (host: string) => Promise<{ address: string; family: number }[]>;
  /** The TXT records of a name, each as its character strings. */
  txt: (name: string) => Promise<string[][]>;
}

export function systemDns(): Dns {
  return { addresses: (host) => lookup(host, { all: true, verbatim: true }), txt: (name) => resolveTxt(name) };
}

/** A resolver asking only `servers` ("ip", "ip:port", "[v6]:port", comma-separated). */
export function dnsOf(servers: string): Dns {
  const list = servers
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) return systemDns();
  const r = new Resolver({ timeout: 3000, tries: 2 });
  r.setServers(list);
  const settle = <T>(p: Promise<T[]>) => p.catch(() => [] as T[]);
  return {
    async addresses(host) {
      const [v4, v6] = await Promise.all([settle(r.resolve4(host)), settle(r.resolve6(host))]);
      const found = [
        ...v4.map((address) => ({ address, family: 4 })),
        ...v6.map((address) => ({ address, family: 6 })),
      ];
      if (found.length === 0) throw new Error(`no addresses for ${host}`);
      return found;
    },
    txt: (name) => r.resolveTxt(name),
  };
}
