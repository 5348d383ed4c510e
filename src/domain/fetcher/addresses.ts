import { isIP } from "node:net";

// Which IP addresses a server-side fetch may connect to. Pure functions over address text:
// the fetcher asks before every connection, the tests ask with literal strings.

export type Address = { v: 4 | 6; bytes: number[] };

export function parseAddress(text: string): Address | null {
  const s = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const kind = isIP(s);
  if (kind === 4) return { v: 4, bytes: s.split(".").map(Number) };
  if (kind !== 6) return null;
  // A zone ("fe80::1%eth0") names an interface: only link-local addresses have one.
  const [addr] = s.split("%");
  let head = addr;
  const tail: number[] = [];
  const lastColon = addr.lastIndexOf(":");
  if (addr.slice(lastColon + 1).includes(".")) {
    const v4 = addr
      .slice(lastColon + 1)
      .split(".")
      .map(Number);
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    head = addr.slice(0, lastColon + 1);
    // "::ffff:" loses its separator; "::" stays the gap it is.
    if (!head.endsWith("::")) head = head.slice(0, -1);
  }
  const [l, r] = head.includes("::") ? head.split("::") : [head, undefined];
  const left = l ? l.split(":").map((h) => parseInt(h, 16)) : [];
  const right = r !== undefined ? (r ? r.split(":").map((h) => parseInt(h, 16)) : []) : [];
  const fill = 8 - left.length - right.length - tail.length;
  const groups = [...left, ...(r !== undefined ? new Array(Math.max(0, fill)).fill(0) : []), ...right, ...tail];
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  return { v: 6, bytes: groups.flatMap((g) => [g >> 8, g & 0xff]) };
}

export interface Cidr {
  v: 4 | 6;
  bytes: number[];
  bits: number;
}

export function parseCidr(text: string): Cidr | null {
  const [addr, bitsText] = text.trim().split("/");
  const a = parseAddress(addr);
  if (!a) return null;
  const max = a.v === 4 ? 32 : 128;
  const bits = bitsText === undefined ? max : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!(bits >= 0 && bits <= max)) return null;
  return { ...a, bits };
}

/** Parses a comma-separated CIDR list; a bad entry throws (config is checked at start). */
export function parseCidrList(text: string): Cidr[] {
  return text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const c = parseCidr(p);
      if (!c) throw new Error(`not a CIDR range: ${p}`);
      return c;
    });
}

export function inCidr(a: Address, c: Cidr): boolean {
  if (a.v !== c.v) return false;
  for (let bit = 0; bit < c.bits; bit += 8) {
    const n = Math.min(8, c.bits - bit);
    const mask = (0xff << (8 - n)) & 0xff;
    if ((a.bytes[bit / 8] & mask) !== (c.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

const ranges = (list: [string, string][]) => list.map(([cidr, why]) => ({ cidr: parseCidr(cidr)!, why }));

// Everything that is not the public internet. Cloud metadata endpoints (169.254.169.254,
// fd00:ec2::254, 100.100.100.200) fall inside link-local, ULA and CGNAT.
const BLOCKED = ranges([
  ["0.0.0.0/8", "an unspecified ('this network') address"],
  ["10.0.0.0/8", "a private address"],
  ["100.64.0.0/10", "a shared (CGNAT) address"],
  ["127.0.0.0/8", "a loopback address"],
  ["169.254.0.0/16", "a link-local address (cloud metadata lives here)"],
  ["172.16.0.0/12", "a private address"],
  ["192.0.0.0/24", "an IETF protocol address"],
  ["192.0.2.0/24", "a documentation address"],
  ["192.88.99.0/24", "a 6to4 relay address"],
  ["192.168.0.0/16", "a private address"],
  ["198.18.0.0/15", "a benchmarking address"],
  ["198.51.100.0/24", "a documentation address"],
  ["203.0.113.0/24", "a documentation address"],
  ["224.0.0.0/4", "a multicast address"],
  ["240.0.0.0/4", "a reserved address"],
  ["::/128", "the unspecified address"],
  ["::1/128", "a loopback address"],
  ["::ffff:0:0/96", "an IPv4-mapped address"],
  ["::/96", "an IPv4-compatible address"],
  ["64:ff9b::/96", "a NAT64 address (embeds IPv4)"],
  ["64:ff9b:1::/48", "a NAT64 address (embeds IPv4)"],
  ["100::/64", "a discard address"],
  ["2001::/32", "a Teredo address (embeds IPv4)"],
  ["2001:2::/48", "a benchmarking address"],
  ["2001:db8::/32", "a documentation address"],
  ["2002::/16", "a 6to4 address (embeds IPv4)"],
  ["fc00::/7", "a private (unique local) address"],
  ["fe80::/10", "a link-local address"],
  ["fec0::/10", "a site-local address"],
  ["ff00::/8", "a multicast address"],
]);

/** Why a fetch must not connect to this address, or null when it is an ordinary public one. */
export function refusalOf(text: string): string | null {
  const a = parseAddress(text);
  if (!a) return "not an IP address";
  if (text.includes("%")) return "a scoped (link-local) address";
  // The IPv4 broadcast address is inside 240/4 already.
  for (const { cidr, why } of BLOCKED) if (inCidr(a, cidr)) return why;
  return null;
}

/** null when a fetch may connect: a public address, or one inside an explicitly allowed range. */
export function checkAddress(text: string, allow: Cidr[]): string | null {
  const why = refusalOf(text);
  if (why === null) return null;
  const a = parseAddress(text);
  if (a && !text.includes("%") && allow.some((c) => inCidr(a, c))) return null;
  return why;
}

/** An IPv4-mapped IPv6 address ("::ffff:10.0.0.1") as the IPv4 address it is; others unchanged. */
export function unmapped(text: string): string {
  const a = parseAddress(text);
  if (a?.v === 6 && a.bytes.slice(0, 10).every((b) => b === 0) && a.bytes[10] === 0xff && a.bytes[11] === 0xff)
    return a.bytes.slice(12).join(".");
  return text;
}
