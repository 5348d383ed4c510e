// Reads one HTTP/1.1 response from a byte stream: the head, then the body framed by chunked
// encoding, Content-Length or the end of the connection. The fetcher needs this because it
// must own the socket: Bun's node:http client runs on fetch(), and neither destroying its
// response nor aborting keeps the connection from being read further, so a remote body could
// not be cut off at the size limit. Over a socket the fetcher opened itself, closing is final.
// Only what an import needs: no keep-alive, no content codings (none are asked for), no upgrade.

export class Http1Error extends Error {}

export interface ResponseHead {
  status: number;
  /** Lower-case names; repeated fields joined with ", " (as node:http does for most). */
  headers: Record<string, string>;
}

const MAX_HEAD = 64 * 1024;
const CRLF = [13, 10];

/** Buffered reads over an async iterator of chunks, without copying the body more than once. */
class Reader {
  #buf: Uint8Array = new Uint8Array(0);
  #ended = false;
  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const r = await this.it.next();
    if (r.done) {
      this.#ended = true;
      return false;
    }
    const chunk = r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value as ArrayBuffer);
    if (this.#buf.length === 0) this.#buf = chunk;
    else {
      const joined = new Uint8Array(this.#buf.length + chunk.length);
      joined.set(this.#buf);
      joined.set(chunk, this.#buf.length);
      this.#buf = joined;
    }
    return true;
  }

  /** One line without its CRLF (a bare LF is accepted, as node:http does); null at the end of input. */
  async line(max: number): Promise<string | null> {
    let from = 0;
    for (;;) {
      const lf = this.#buf.indexOf(CRLF[1], from);
      if (lf >= 0) {
        if (lf > max) throw new Http1Error(`a line of the response is longer than ${max} bytes`);
        const end = lf > 0 && this.#buf[lf - 1] === CRLF[0] ? lf - 1 : lf;
        const text = new TextDecoder("latin1").decode(this.#buf.subarray(0, end));
        this.#buf = this.#buf.subarray(lf + 1);
        return text;
      }
      if (this.#buf.length > max) throw new Http1Error(`a line of the response is longer than ${max} bytes`);
      from = this.#buf.length;
      if (!(await this.#fill())) {
        if (this.#buf.length > 0) throw new Http1Error("the response ended in the middle of a line");
        return null;
      }
    }
  }

  /** Up to `max` bytes: what is buffered, else the next chunk; null at the end of input. */
  async some(max: number): Promise<Uint8Array | null> {
    if (this.#buf.length === 0 && !(await this.#fill())) return null;
    const out = this.#buf.subarray(0, max);
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }
}

/**
 * Parses the response head, skipping interim (1xx) responses, and returns it with the body as
 * a stream of chunks. The body ends with an error when the connection closes before the framing
 * says it is complete. `source` is read only as fast as the body is consumed.
 */
export async function readResponse(
  source: AsyncIterable<Uint8Array>,
): Promise<ResponseHead & { body: AsyncIterable<Uint8Array> }> {
  const reader = new Reader(source[Symbol.asyncIterator]());
  let head: ResponseHead;
  do head = await readHead(reader);
  while (head.status >= 100 && head.status < 200 && head.status !== 101);
  if (head.status === 101) throw new Http1Error("the server switched protocols");
  return { ...head, body: readBody(reader, head.headers) };
}

async function readHead(reader: Reader): Promise<ResponseHead> {
  let budget = MAX_HEAD;
  const next = async () => {
    const line = await reader.line(budget);
    if (line === null) throw new Http1Error("the connection closed before an answer");
    budget -= line.length + 2;
    if (budget < 0) throw new Http1Error(`the response head is longer than ${MAX_HEAD} bytes`);
    return line;
  };
  const statusLine = await next();
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
  if (!m) throw new Http1Error("the answer is not an HTTP/1.1 response");
  const headers: Record<string, string> = {};
  for (let line = await next(); line !== ""; line = await next()) {
    if (line.startsWith(" ") || line.startsWith("\t")) throw new Http1Error("the response uses folded header lines");
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name))
      throw new Http1Error("the response has a malformed header line");
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status: Number(m[1]), headers };
}

async function* readBody(reader: Reader, headers: Record<string, string>): AsyncGenerator<Uint8Array> {
  const te = headers["transfer-encoding"];
  if (te !== undefined) {
    if (te.trim().toLowerCase() !== "chunked")
      throw new Http1Error(`the response uses an unsupported transfer coding '${te}'`);
    yield* chunked(reader);
    return;
  }
  const cl = headers["content-length"];
  if (cl !== undefined) {
    // Repeated equal values are tolerated (RFC 9110 §8.6); anything else is not a length.
    const values = new Set(cl.split(",").map((v) => v.trim()));
    const [only] = values;
    if (values.size !== 1 || !/^\d{1,15}$/.test(only))
      throw new Http1Error("the response has an invalid Content-Length");
    yield* exactly(reader, Number(only));
    return;
  }
  for (let c = await reader.some(1 << 20); c; c = await reader.some(1 << 20)) yield c;
}

async function* exactly(reader: Reader, n: number): AsyncGenerator<Uint8Array> {
  while (n > 0) {
    const c = await reader.some(Math.min(n, 1 << 20));
    if (!c) throw new Http1Error("the connection closed before the whole body arrived");
    n -= c.length;
    yield c;
  }
}

async function* chunked(reader: Reader): AsyncGenerator<Uint8Array> {
  for (;;) {
    const line = await reader.line(1024);
    if (line === null) throw new Http1Error("the connection closed before the whole body arrived");
    const m = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
    if (!m) throw new Http1Error("the response has a malformed chunk");
    const size = Number.parseInt(m[1], 16);
    if (size === 0) break;
    yield* exactly(reader, size);
    if ((await reader.line(2)) !== "") throw new Http1Error("the response has a malformed chunk");
  }
  // Trailer fields, ignored, up to the empty line.
  let budget = MAX_HEAD;
  for (let line = await reader.line(budget); line !== ""; line = await reader.line(budget)) {
    if (line === null) throw new Http1Error("the connection closed before the whole body arrived");
    budget -= line.length + 2;
    if (budget < 0) throw new Http1Error(`the response trailers are longer than ${MAX_HEAD} bytes`);
  }
}
