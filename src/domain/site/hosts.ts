import { hostname as machineName, networkInterfaces } from "node:os";
import { parseAddress } from "../fetcher/addresses.ts";

// The names this imgd answers as itself: its public URL's host, the CDN host, the address it
// listens on, the machine's own names and addresses, and every loopback name. Two rules rest
// on this one list: such a name can never become a tenant's custom domain, and without
// IMGD_PUBLIC_URL only such a name in the Host header may shape the absolute URLs imgd writes
// (an arbitrary Host would otherwise end up in pages a cache keeps, e.g. /p/<id>'s og:url).

/** A host name as compared everywhere: lower case, no trailing dot, no brackets, no port. */
export function canonicalHost(raw: string): string {
  let h = raw.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    h = end > 0 ? h.slice(1, end) : h.slice(1);
  } else if (h.indexOf(":") === h.lastIndexOf(":")) h = h.replace(/:\d*$/, "");
  return h.replace(/\.+$/, "");
}

/** Names that resolve to this machine by convention (RFC 6761) whatever DNS says. */
export const isLoopbackName = (h: string) => h === "localhost" || h.endsWith(".localhost");

// Suffixes that name no public domain: local networks, reverse-lookup zones, never-resolving ones.
const SPECIAL_SUFFIXES = ["localhost", "local", "internal", "home.arpa", "arpa", "invalid", "localdomain", "lan"];

export interface HostSettings {
  publicUrl: string | undefined;
  cdnHost: string | undefined;
  /** The address the server listens on (IMGD_HOST). */
  host: string;
  basePath: string;
}

export class OwnHosts {
  readonly #names = new Set<string>();
  #listening: { hostname: string; port: number } | null = null;

  constructor(private readonly s: HostSettings) {
    if (s.publicUrl) this.#names.add(canonicalHost(new URL(s.publicUrl).host));
    if (s.cdnHost) this.#names.add(canonicalHost(s.cdnHost));
    this.#names.add(canonicalHost(s.host));
    try {
      const name = canonicalHost(machineName());
      if (name) this.#names.add(name).add(name.split(".")[0]);
    } catch {
      // Without the permission to read it (Deno), the machine's name is simply not known.
    }
    try {
      for (const list of Object.values(networkInterfaces()))
        for (const a of list ?? []) this.#names.add(canonicalHost(a.address.split("%")[0]));
    } catch {
      // As above: interface addresses are a convenience, not a requirement.
    }
  }

  /** Told by the server once it listens: the fallback origin of absolute URLs. */
  listening(hostname: string, port: number) {
    this.#listening = { hostname: canonicalHost(hostname), port };
    this.#names.add(this.#listening.hostname);
  }

  /** Whether imgd answers on this name (or address) as itself. */
  isOwn(raw: string): boolean {
    const h = canonicalHost(raw);
    if (!h || isLoopbackName(h) || this.#names.has(h)) return true;
    const a = parseAddress(h);
    if (!a) return false;
    // Any loopback or unspecified address, in either family (also ::ffff:127.0.0.1).
    const v4 = a.v === 4 ? a.bytes : isMapped(a.bytes) ? a.bytes.slice(12) : null;
    if (v4) return v4[0] === 127 || v4.every((b) => b === 0);
    return a.bytes.slice(0, 15).every((b) => b === 0) && a.bytes[15] <= 1;
  }

  /**
   * Why a name cannot be a tenant's custom domain, or null if it may be claimed (it still has
   * to be proved). Decided from the text alone, before any look-up.
   */
  claimRefusal(raw: string): string | null {
    const h = canonicalHost(raw);
    if (parseAddress(h)) return "an IP address cannot be a custom domain: use a host name you own";
    if (this.isOwn(h)) return `${h} is a name this imgd answers as itself and cannot be a custom domain`;
    if (!h.includes(".")) return "a custom domain must be a fully qualified name, such as images.example.com";
    const special = SPECIAL_SUFFIXES.find((s) => h === s || h.endsWith(`.${s}`));
    if (special) return `names under .${special} are not public domains and cannot be a custom domain`;
    return null;
  }

  /**
   * The origin (and base path) of absolute URLs for a request: IMGD_PUBLIC_URL if set, else
   * the request's own origin when its Host is one of ours (and, once known, on the port we
   * listen on), else the address we listen on.
   */
  base(requestUrl: string): string {
    if (this.s.publicUrl) return this.s.publicUrl;
    const url = new URL(requestUrl);
    const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
    const configured = this.#names.has(canonicalHost(url.host)) && !isLoopbackHostText(url.hostname);
    if (this.isOwn(url.hostname) && (!this.#listening || port === this.#listening.port || configured))
      return url.origin + this.s.basePath;
    const l = this.#listening;
    if (!l) return `${url.protocol}//localhost${url.port ? `:${url.port}` : ""}${this.s.basePath}`;
    const shown = l.hostname === "0.0.0.0" || l.hostname === "::" || !l.hostname ? "localhost" : l.hostname;
    return `${url.protocol}//${shown.includes(":") ? `[${shown}]` : shown}:${l.port}${this.s.basePath}`;
  }
}

const isMapped = (b: number[]) => b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

/** Loopback names and addresses: their port must be the listening one to be believed. */
const isLoopbackHostText = (h: string) => {
  const c = canonicalHost(h);
  return isLoopbackName(c) || c.startsWith("127.") || c === "::1";
};
