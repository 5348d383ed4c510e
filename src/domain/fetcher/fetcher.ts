import type { ConnectOptions, Connection } from "../../runtime/types.ts";
import { type Cidr, checkAddress, parseAddress } from "./addresses.ts";
import { AppError, invalid } from "../errors.ts";
import { systemDns } from "./dns.ts";
import { Http1Error, type ResponseHead, readResponse } from "./http1.ts";

// The one way imgd fetches a URL a client named (img.pro import, Imgwire URL upload). It
// resolves the name itself, refuses if any address is not public, and connects only to the
// address it checked: the socket's `lookup` is pinned to it, so a DNS answer that changes
// between check and connect (rebinding) cannot redirect the connection. Every redirect goes
// through the same steps. The body is handed on as it streams, cut at the size limit and at
// the deadline; what it is, is decided by sniffing its bytes, never by its headers.
// The fetcher opens the connection itself (the runtime's, read only on demand) and speaks
// HTTP/1.1 over it (http1.ts): node:http under Bun runs on fetch() and reads a body ahead
// without limit, so a body past the limit could not be refused without downloading it.

export interface FetcherOptions {
  /** Ranges allowed although not public (IMGD_IMPORT_ALLOW_NETWORKS). */
  allow: Cidr[];
  /** For everything: every hop and the whole body. */
  timeoutMs: number;
  maxRedirects?: number;
  /** Opens a connection to a checked address: the runtime's `connect`. */
  connect: (options: ConnectOptions) => Promise<Connection>;
  /** Name resolution; replaceable so tests never need DNS. */
  resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
  /** Names the operator pinned (IMGD_RESOLVE): never looked up, still checked like any address. */
  pins?: Pins;
}

/** Pinned names (lower case, no trailing dot) and where they lead, as curl's --resolve/--connect-to. */
export type Pins = Map<string, { address: string; port?: number }>;

/** Parses IMGD_RESOLVE: `name=address[:port]`, comma-separated (checked by the config schema). */
export function parsePins(text: string): Pins {
  const pins: Pins = new Map();
  for (const entry of text
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const eq = entry.indexOf("=");
    const target = entry.slice(eq + 1);
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(target) ?? /^([^:]+)(?::(\d+))?$/.exec(target);
    if (!m || !parseAddress(m[1])) throw new Error(`not name=address[:port]: ${entry}`);
    pins.set(entry.slice(0, eq).toLowerCase().replace(/\.+$/, ""), {
      address: m[1],
      ...(m[2] ? { port: Number(m[2]) } : {}),
    });
  }
  return pins;
}

export interface Fetched {
  /** The URL that answered (after redirects). */
  url: string;
  /** The file name the URL suggests ("" when none). */
  filename: string;
  body: AsyncIterable<Uint8Array>;
}

const READ_SLACK = 512 * 1024;

const fail = (message: string, code: "VALIDATION_ERROR" | "PAYLOAD_TOO_LARGE" = "VALIDATION_ERROR") =>
  new AppError(code, message, { field: "url", reason: "fetch_failed" });

export class Fetcher {
  readonly #maxRedirects: number;
  readonly #resolve: NonNullable<FetcherOptions["resolve"]>;

  constructor(private readonly o: FetcherOptions) {
    this.#maxRedirects = o.maxRedirects ?? 5;
    this.#resolve = o.resolve ?? systemDns().addresses;
  }

  /** Checks a URL's form without any network: http(s), a host, no credentials. */
  static parseUrl(raw: string, field = "url"): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw invalid(field, "is not an absolute URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw invalid(field, `only http and https URLs can be imported, not ${url.protocol.replace(/:$/, "")}`);
    }
    if (url.username || url.password) throw invalid(field, "URLs with credentials are not imported");
    if (!url.hostname) throw invalid(field, "has no host");
    return url;
  }

  /** Opens the URL and streams its body; throws `fetch_failed` (a 4xx) for anything upstream. */
  /** The whole body of a URL, refused past `maxBytes`. */
  async read(raw: string, maxBytes: number): Promise<Uint8Array> {
    const { body } = await this.open(raw, maxBytes);
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += chunk.byteLength;
      if (size > maxBytes) throw fail(`the file is larger than ${maxBytes} bytes`, "PAYLOAD_TOO_LARGE");
      chunks.push(chunk);
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }

  /** Whether the operator pinned this name (IMGD_RESOLVE): then DNS is never asked about it. */
  isPinned(host: string): boolean {
    return this.o.pins?.has(host.toLowerCase().replace(/\.+$/, "")) ?? false;
  }

  async open(raw: string, maxBytes: number): Promise<Fetched> {
    // The deadline destroys whatever socket is open, wherever the exchange is.
    type Closable = { destroy: (err?: Error) => void };
    let open = null as Closable | null;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      open?.destroy(new Error("deadline"));
    }, this.o.timeoutMs);
    const track = (x: Closable) => {
      open = x;
      if (timedOut) x.destroy(new Error("deadline"));
    };
    const onTimeout = () => fail(`fetching the URL took longer than ${this.o.timeoutMs} ms`);
    try {
      let url = Fetcher.parseUrl(raw);
      for (let hop = 0; ; hop++) {
        const res = await this.#get(url, maxBytes, track).catch((err) => {
          throw timedOut ? onTimeout() : err;
        });
        const status = res.status;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.destroy();
          if (hop >= this.#maxRedirects) throw fail(`more than ${this.#maxRedirects} redirects`);
          let next: URL;
          try {
            next = Fetcher.parseUrl(new URL(res.headers.location, url).href);
          } catch (err) {
            throw fail(`redirected to a URL that cannot be imported: ${(err as Error).message.replace(/^url: /, "")}`);
          }
          url = next;
          continue;
        }
        if (status < 200 || status > 299) {
          res.destroy();
          throw fail(`the server answered HTTP ${status}`);
        }
        const declared = Number(res.headers["content-length"] ?? NaN);
        if (declared > maxBytes) {
          res.destroy();
          throw fail(
            `the file is larger than the limit of ${maxBytes} bytes (Content-Length ${declared})`,
            "PAYLOAD_TOO_LARGE",
          );
        }
        const body = streamBody(
          res,
          maxBytes,
          () => timedOut,
          onTimeout,
          () => clearTimeout(timer),
        );
        const name = decodeSafe(url.pathname.slice(url.pathname.lastIndexOf("/") + 1));
        return { url: url.href, filename: name, body };
      }
    } catch (err) {
      clearTimeout(timer);
      open?.destroy();
      throw err;
    }
  }

  /**
   * One request with a body (a webhook delivery, a CDN purge hook): the same checks and pinning
   * as an import, no redirects followed (a 3xx is an answer like any other). Answers the status
   * and up to 64 KiB of the body as text; throws `fetch_failed` when there is no answer
   * (refused, timed out).
   */
  async send(raw: string, req: Outgoing): Promise<{ status: number; body: string }> {
    let open = null as { destroy: (err?: Error) => void } | null;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      open?.destroy(new Error("deadline"));
    }, this.o.timeoutMs);
    const track = (x: { destroy: (err?: Error) => void }) => {
      open = x;
      if (timedOut) x.destroy(new Error("deadline"));
    };
    const body = typeof req.body === "string" ? new TextEncoder().encode(req.body) : (req.body ?? new Uint8Array());
    try {
      const res = await this.#get(Fetcher.parseUrl(raw), SEND_READ, track, { ...req, body });
      // Read (some of) the answer so the server sees its response taken.
      let text = "";
      try {
        const decoder = new TextDecoder();
        for await (const chunk of streamBody(
          res,
          SEND_READ,
          () => timedOut,
          () => fail("timed out"),
          () => {},
        )) {
          text += decoder.decode(chunk, { stream: true });
        }
      } catch {
        // An answer cut short (too long, too slow) still has its status.
      }
      return { status: res.status, body: text };
    } catch (err) {
      throw timedOut ? fail(`the endpoint took longer than ${this.o.timeoutMs} ms`) : err;
    } finally {
      clearTimeout(timer);
      open?.destroy();
    }
  }

  /** One request to one checked address, on a socket of our own. */
  async #get(
    url: URL,
    maxBytes: number,
    track: (x: { destroy: (err?: Error) => void }) => void,
    send?: { method: string; headers: Record<string, string>; body: Uint8Array },
  ): Promise<Response1> {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const pin = this.o.pins?.get(host.toLowerCase().replace(/\.+$/, ""));
    let pinned: { address: string; family: number };
    if (pin) {
      pinned = { address: pin.address, family: pin.address.includes(":") ? 6 : 4 };
    } else if (parseAddress(host)) {
      pinned = { address: host, family: host.includes(":") ? 6 : 4 };
    } else {
      let found: { address: string; family: number }[];
      try {
        found = await this.#resolve(host);
      } catch {
        throw fail(`the host name '${host}' could not be resolved`);
      }
      if (found.length === 0) throw fail(`the host name '${host}' has no addresses`);
      pinned = found[0];
      // Every answer, not only the one used: a name that also points inside is refused.
      for (const a of found) this.#check(a.address, host);
    }
    this.#check(pinned.address, host);
    const tls = url.protocol === "https:";
    const port = pin?.port ?? (Number(url.port) || (tls ? 443 : 80));
    let opened = false;
    const connecting = this.o.connect({
      address: pinned.address,
      port,
      tls: tls ? { serverName: parseAddress(host) ? undefined : host } : undefined,
      // The body's limit plus room for the head and chunk framing: whatever the body looks
      // like, no more than the limit + 1 MiB is ever read (one read is at most 512 KiB).
      maxRead: maxBytes + READ_SLACK,
    });
    // The deadline can strike while connecting (a SYN nobody answers waits for minutes): the
    // wait ends at once, and the connection is closed as soon as it exists.
    const abandoned = Promise.withResolvers<never>();
    abandoned.promise.catch(() => {});
    track({
      destroy: (err) => {
        abandoned.reject(err ?? new Error("closed"));
        connecting.then((c) => c.close(err)).catch(() => {});
      },
    });
    let conn: Connection;
    try {
      conn = await Promise.race([connecting, abandoned.promise]);
    } catch (err) {
      throw fail(`could not connect: ${(err as Error).message}`);
    }
    track({ destroy: (err) => conn.close(err) });
    try {
      // Once more where the socket really connected: nothing but the checked address.
      const why = conn.remoteAddress ? checkAddress(conn.remoteAddress, this.o.allow) : null;
      if (why) throw fail(`refused to connect to ${conn.remoteAddress}: ${why}`);
      await conn.write(new TextEncoder().encode(requestHead(url, send)));
      if (send) await conn.write(send.body);
      const res = await readResponse(conn.readable);
      opened = true;
      return { ...res, destroy: () => conn.close() };
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw fail(err instanceof Http1Error ? err.message : `the connection failed: ${(err as Error).message}`);
    } finally {
      if (!opened) conn.close();
    }
  }

  #check(address: string, host: string) {
    const why = checkAddress(address, this.o.allow);
    if (why) throw fail(`refused: '${host}' resolves to ${address}, ${why}`);
  }
}

/** A request `send` makes: its method, headers (no Host, Content-Length or Connection) and body. */
export interface Outgoing {
  method: string;
  headers: Record<string, string>;
  body?: Uint8Array | string;
}

/** How much of the answer to a request with a body is read. */
const SEND_READ = 64 * 1024;

/** The request line and header fields: an import's GET, or a POST with its own fields and body. */
function requestHead(url: URL, send?: { method: string; headers: Record<string, string>; body: Uint8Array }) {
  const target = `${url.pathname}${url.search}`;
  if (!send)
    return (
      `GET ${target} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: imgd-import/1\r\n` +
      "Accept: image/*,*/*;q=0.5\r\nConnection: close\r\n\r\n"
    );
  const fields = Object.entries(send.headers)
    .map(([k, v]) => `${k}: ${v.replace(/[\r\n]/g, "")}\r\n`)
    .join("");
  return (
    `${send.method} ${target} HTTP/1.1\r\nHost: ${url.host}\r\n${fields}` +
    `Content-Length: ${send.body.byteLength}\r\nConnection: close\r\n\r\n`
  );
}

type Response1 = ResponseHead & { body: AsyncIterable<Uint8Array>; destroy: () => void };

async function* streamBody(
  res: Response1,
  maxBytes: number,
  timedOut: () => boolean,
  onTimeout: () => AppError,
  done: () => void,
) {
  let size = 0;
  try {
    for await (const chunk of res.body) {
      size += chunk.byteLength;
      if (size > maxBytes) throw fail(`the file is larger than the limit of ${maxBytes} bytes`, "PAYLOAD_TOO_LARGE");
      yield chunk;
    }
    if (timedOut()) throw onTimeout();
  } catch (err) {
    if (err instanceof AppError) throw err;
    if ((err as { code?: string }).code === "READ_LIMIT") {
      throw fail(`the file is larger than the limit of ${maxBytes} bytes`, "PAYLOAD_TOO_LARGE");
    }
    throw timedOut() ? onTimeout() : fail(`the connection failed while reading the body: ${(err as Error).message}`);
  } finally {
    // Whatever ended the read (the limit, the consumer, an error), the socket goes with it.
    done();
    res.destroy();
  }
}

function decodeSafe(s: string) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
