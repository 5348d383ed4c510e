// A streaming multipart/form-data reader: file parts are handed on chunk by chunk, so an
// upload is written to disk as it arrives and refused at its size limit, never buffered whole.

export class MultipartError extends Error {
  override name = "MultipartError";
}

export interface Part {
  name: string;
  filename?: string;
  contentType?: string;
  /** Must be read to the end (or abandoned) before the next part is requested. */
  body: AsyncIterable<Uint8Array>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const CRLFCRLF = enc.encode("\r\n\r\n");
const MAX_HEADER_BYTES = 16 * 1024;

export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\b/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const b = m?.[1] ?? m?.[2];
  return b && b.length <= 70 ? b : null;
}

export async function* parseMultipart(
  stream: ReadableStream<Uint8Array>,
  boundary: string,
  maxParts = 100,
): AsyncGenerator<Part> {
  const reader = stream.getReader();
  const delimiter = enc.encode(`\r\n--${boundary}`);
  let buf: Uint8Array = new Uint8Array(0);
  let ended = false;

  const fill = async (): Promise<boolean> => {
    if (ended) return false;
    const r = await reader.read();
    if (r.done) {
      ended = true;
      return false;
    }
    buf = concat(buf, r.value);
    return true;
  };
  const need = async (n: number) => {
    while (buf.length < n)
      if (!(await fill())) throw new MultipartError("the body ended in the middle of the form data");
  };

  try {
    // The first boundary has no CRLF before it: search for it as if the body began with one.
    buf = concat(enc.encode("\r\n"), buf);
    for (;;) {
      const i = indexOf(buf, delimiter);
      if (i >= 0) {
        buf = buf.subarray(i + delimiter.length);
        break;
      }
      buf = buf.subarray(Math.max(0, buf.length - delimiter.length));
      if (!(await fill())) throw new MultipartError("no form-data boundary found in the body");
    }
    for (let count = 0; ; count++) {
      await need(2);
      if (buf[0] === 0x2d && buf[1] === 0x2d) {
        // "--": the closing boundary. Read the epilogue too, so the request is consumed to its
        // end (a server may otherwise close a kept-alive connection under the client).
        let extra = buf.length;
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          extra += r.value.byteLength;
          if (extra > 64 * 1024) throw new MultipartError("too much data after the closing boundary");
        }
        return;
      }
      // Transport padding after a boundary is allowed before its CRLF.
      while (buf[0] === 0x20 || buf[0] === 0x09) {
        buf = buf.subarray(1);
        await need(2);
      }
      if (buf[0] !== 0x0d || buf[1] !== 0x0a) throw new MultipartError("malformed boundary line");
      buf = buf.subarray(2);
      if (count >= maxParts) throw new MultipartError(`more than ${maxParts} form fields`);

      let end: number;
      while ((end = indexOf(buf, CRLFCRLF)) < 0) {
        if (buf.length > MAX_HEADER_BYTES) throw new MultipartError("form field headers are too large");
        if (!(await fill())) throw new MultipartError("the body ended inside form field headers");
      }
      const headers = parseHeaders(dec.decode(buf.subarray(0, end)));
      buf = buf.subarray(end + 4);

      let done = false;
      async function* body(): AsyncGenerator<Uint8Array> {
        for (;;) {
          const i = indexOf(buf, delimiter);
          if (i >= 0) {
            if (i > 0) yield buf.slice(0, i);
            buf = buf.subarray(i + delimiter.length);
            done = true;
            return;
          }
          // Everything but a possible start of the delimiter can be handed on now.
          const safe = buf.length - delimiter.length + 1;
          if (safe > 0) {
            yield buf.slice(0, safe);
            buf = buf.subarray(safe);
          }
          if (!(await fill())) throw new MultipartError("the upload was cut off before the end of the form data");
        }
      }
      const part: Part = { ...headers, body: body() };
      yield part;
      if (!done) for await (const _ of part.body) void _;
      if (!done) throw new MultipartError("form field was not read to its end");
    }
  } finally {
    reader.releaseLock();
  }
}

/** Reads a small text field, refusing one over `max` bytes. */
export async function readField(part: Part, max = 64 * 1024): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of part.body) {
    size += c.length;
    if (size > max) throw new MultipartError(`form field '${part.name}' is longer than ${max} bytes`);
    chunks.push(c);
  }
  return dec.decode(concat(...chunks));
}

function parseHeaders(text: string): Omit<Part, "body"> {
  let name: string | undefined;
  let filename: string | undefined;
  let contentType: string | undefined;
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === "content-type") contentType = value;
    if (key !== "content-disposition") continue;
    for (const m of value.matchAll(/;\s*([\w*]+)=(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g)) {
      const k = m[1].toLowerCase();
      const v = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3].trim();
      if (k === "name") name = v;
      else if (k === "filename" && filename === undefined) filename = v;
      else if (k === "filename*") filename = decodeExtValue(v) ?? filename;
    }
  }
  if (name === undefined) throw new MultipartError("a form field has no name");
  return { name, filename, contentType };
}

function decodeExtValue(v: string): string | undefined {
  const m = /^[\w-]+'[^']*'(.*)$/.exec(v);
  try {
    return m ? decodeURIComponent(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  for (let i = hay.indexOf(first); i >= 0 && i <= hay.length - needle.length; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}
