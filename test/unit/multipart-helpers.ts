import { type Part, parseMultipart } from "../../src/http/multipart.ts";

// Builds multipart/form-data bodies and reads them back through imgd's parser, fed in chunks
// cut wherever a test says: the parser must not care where the network splits the bytes.

export interface Field {
  name: string;
  filename?: string;
  contentType?: string;
  data: Uint8Array;
}

const enc = new TextEncoder();

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A body as a browser sends it (names quoted, CRLF line ends), with optional preamble and epilogue. */
export function buildBody(
  fields: Field[],
  boundary: string,
  opts: { preamble?: string; epilogue?: string } = {},
): Uint8Array {
  const out: Uint8Array[] = [];
  if (opts.preamble) out.push(enc.encode(`${opts.preamble}\r\n`));
  for (const f of fields) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"`;
    if (f.filename !== undefined) head += `; filename="${f.filename}"`;
    head += "\r\n";
    if (f.contentType) head += `Content-Type: ${f.contentType}\r\n`;
    out.push(enc.encode(`${head}\r\n`), f.data, enc.encode("\r\n"));
  }
  out.push(enc.encode(`--${boundary}--\r\n${opts.epilogue ?? ""}`));
  return concat(out);
}

/** A stream handing out `body` cut at the given offsets (sorted, within the body). */
export function chunked(body: Uint8Array, cuts: number[]): ReadableStream<Uint8Array> {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < body.length))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const c of [...points, body.length]) {
    pieces.push(body.slice(from, c));
    from = c;
  }
  let i = 0;
  return new ReadableStream({
    pull(ctrl) {
      if (i < pieces.length) ctrl.enqueue(pieces[i++]);
      else ctrl.close();
    },
  });
}

/** Every part read to its end, as plain data. */
export async function parseAll(
  stream: ReadableStream<Uint8Array>,
  boundary: string,
  maxParts?: number,
): Promise<Field[]> {
  const out: Field[] = [];
  for await (const part of parseMultipart(stream, boundary, maxParts) as AsyncGenerator<Part>) {
    const chunks: Uint8Array[] = [];
    for await (const c of part.body) chunks.push(c);
    const f: Field = { name: part.name, data: concat(chunks) };
    if (part.filename !== undefined) f.filename = part.filename;
    if (part.contentType !== undefined) f.contentType = part.contentType;
    out.push(f);
  }
  return out;
}
