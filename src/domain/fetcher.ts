import { lookup as dnsLookup } from "node:dns/promises";
import type { IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { type Cidr, checkAddress, parseAddress } from "./addresses.ts";
import { AppError } from "./errors.ts";

// The one way imgd fetches a URL a client named (img.pro import, Imgwire URL upload). It
// resolves the name itself, refuses if any address is not public, and connects only to the
// address it checked: the socket's `lookup` is pinned to it, so a DNS answer that changes
// between check and connect (rebinding) cannot redirect the connection. Every redirect goes
// through the same steps. The body is handed on as it streams, cut at the size limit and at
// the deadline; what it is, is decided by sniffing its bytes, never by its headers.

export interface FetcherOptions {
  /** Ranges allowed although not public (IMGD_IMPORT_ALLOW_NETWORKS). */
  allow: Cidr[];
  /** For everything: every hop and the whole body. */
  timeoutMs: number;
  maxRedirects?: number;
  /** Name resolution; replaceable so tests never need DNS. */
  resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
}

export interface Fetched {
  /** The URL that answered (after redirects). */
  url: string;
  /** The file name the URL suggests ("" when none). */
  filename: string;
  body: AsyncIterable<Uint8Array>;
}

const fail = (message: string, code: "VALIDATION_ERROR" | "PAYLOAD_TOO_LARGE" = "VALIDATION_ERROR") =>
  new AppError(code, message, { field: "url", reason: "fetch_failed" });

export class Fetcher {
  readonly #maxRedirects: number;
  readonly #resolve: NonNullable<FetcherOptions["resolve"]>;

  constructor(private readonly o: FetcherOptions) {
    this.#maxRedirects = o.maxRedirects ?? 5;
    this.#resolve = o.resolve ?? ((host) => dnsLookup(host, { all: true, verbatim: true }));
  }

  /** Checks a URL's form without any network: http(s), a host, no credentials. */
  static parseUrl(raw: string, field = "url"): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new AppError("VALIDATION_ERROR", `${field}: is not an absolute URL`, { field });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new AppError("VALIDATION_ERROR", `${field}: only http and https URLs can be imported, not ${url.protocol.replace(/:$/, "")}`, { field });
    }
    if (url.username || url.password) throw new AppError("VALIDATION_ERROR", `${field}: URLs with credentials are not imported`, { field });
    if (!url.hostname) throw new AppError("VALIDATION_ERROR", `${field}: has no host`, { field });
    return url;
  }

  /** Opens the URL and streams its body; throws `fetch_failed` (a 4xx) for anything upstream. */
  async open(raw: string, maxBytes: number): Promise<Fetched> {
    // Bun's node:http does not honour `signal`: the deadline destroys what is open itself.
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
        const res = await this.#get(url, track).catch((err) => {
          throw timedOut ? onTimeout() : err;
        });
        const status = res.statusCode ?? 0;
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
          throw fail(`the file is larger than the limit of ${maxBytes} bytes (Content-Length ${declared})`, "PAYLOAD_TOO_LARGE");
        }
        track(res);
        const body = streamBody(res, maxBytes, () => timedOut, onTimeout, () => clearTimeout(timer));
        const name = decodeSafe(url.pathname.slice(url.pathname.lastIndexOf("/") + 1));
        return { url: url.href, filename: name, body };
      }
    } catch (err) {
      clearTimeout(timer);
      open?.destroy();
      throw err;
    }
  }

  /** One request to one checked address. */
  async #get(url: URL, track: (req: { destroy: (err?: Error) => void }) => void): Promise<IncomingMessage> {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    let pinned: { address: string; family: number };
    if (parseAddress(host)) {
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
    const lookup: LookupFunction = (_name, options, cb) => {
      if ((options as { all?: boolean })?.all) (cb as any)(null, [pinned]);
      else cb(null, pinned.address, pinned.family);
    };
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        {
          protocol: url.protocol,
          host,
          port: url.port || undefined,
          path: `${url.pathname}${url.search}`,
          method: "GET",
          headers: { host: url.host, "user-agent": "imgd-import/1", accept: "image/*,*/*;q=0.5" },
          lookup,
          servername: parseAddress(host) ? undefined : host,
          agent: false,
        },
        resolve,
      );
      // Once more where the socket really connected: nothing but the checked address.
      req.on("socket", (sock) => {
        sock.once("connect", () => {
          const why = sock.remoteAddress ? checkAddress(sock.remoteAddress, this.o.allow) : null;
          if (why) req.destroy(fail(`refused to connect to ${sock.remoteAddress}: ${why}`));
        });
      });
      track(req);
      // Bun emits only "close" for a destroyed request; after a response this is a no-op.
      req.on("close", () => reject(fail("the connection closed before an answer")));
      req.on("error", (err) => reject(err instanceof AppError ? err : fail(`could not connect: ${err.message}`)));
      req.end();
    });
  }

  #check(address: string, host: string) {
    const why = checkAddress(address, this.o.allow);
    if (why) throw fail(`refused: '${host}' resolves to ${address}, ${why}`);
  }
}

async function* streamBody(res: IncomingMessage, maxBytes: number, timedOut: () => boolean, onTimeout: () => AppError, done: () => void) {
  let size = 0;
  try {
    for await (const chunk of res as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > maxBytes) throw fail(`the file is larger than the limit of ${maxBytes} bytes`, "PAYLOAD_TOO_LARGE");
      yield chunk;
    }
    if (timedOut()) throw onTimeout();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw timedOut() ? onTimeout() : fail(`the connection failed while reading the body: ${(err as Error).message}`);
  } finally {
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
