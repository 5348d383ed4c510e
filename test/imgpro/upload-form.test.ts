import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import sharp from "sharp";
import { makeImage } from "../helpers/images.ts";
import { type TestServer, startServer } from "../helpers/server.ts";
import { snapshot } from "../helpers/store.ts";

// The multipart upload routes of both dialects read their form the same way: a refusal of
// what the form held (a bad field, a field given twice) comes after the whole body was read,
// so the client's kept-alive connection stays usable for its next request.

let s: TestServer;
let jpeg: Uint8Array;
/** Over 1 MiB: more than a server reads of a body it has stopped parsing before answering. */
let big: Uint8Array;
beforeAll(async () => {
  s = await startServer();
  jpeg = await makeImage(40, 30, "jpg");
  const side = 1000;
  big = new Uint8Array(
    await sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
      .jpeg({ quality: 100 })
      .toBuffer(),
  );
});
afterAll(() => s.stop());

const enc = new TextEncoder();

/** A multipart body from fields in order (a name may repeat); file parts are given as bytes. */
function multipart(parts: [string, string | Uint8Array][], boundary = "----imgdform") {
  const chunks: Uint8Array[] = [];
  for (const [name, value] of parts) {
    const file = typeof value !== "string";
    chunks.push(
      enc.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file ? '; filename="a.jpg"' : ""}\r\n` +
          `${file ? "Content-Type: image/jpeg\r\n" : ""}\r\n`,
      ),
      file ? value : enc.encode(value),
      enc.encode("\r\n"),
    );
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** HTTP/1.1 over one socket: each request waits for the previous answer (Content-Length framed). */
function keptAlive() {
  const url = new URL(s.url);
  let buf = Buffer.alloc(0);
  let closed = false;
  let wake: () => void = () => {};
  const sock: Socket = connect(Number(url.port), url.hostname);
  sock.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    wake();
  });
  sock.on("close", () => {
    closed = true;
    wake();
  });
  sock.on("error", () => {});
  const next = async (): Promise<RawResponse | null> => {
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end >= 0) {
        const [status, ...lines] = buf.subarray(0, end).toString().split("\r\n");
        const headers = Object.fromEntries(
          lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
        );
        const length = Number(headers["content-length"] ?? 0);
        if (buf.length >= end + 4 + length) {
          const body = buf.subarray(end + 4, end + 4 + length).toString();
          buf = buf.subarray(end + 4 + length);
          return { status: Number(status!.split(" ")[1]), headers, body };
        }
      }
      if (closed) return null;
      await new Promise<void>((r) => (wake = r));
    }
  };
  return {
    async send(method: string, path: string, headers: Record<string, string>, body?: Uint8Array) {
      const head = Object.entries({ host: url.host, ...headers, "content-length": String(body?.length ?? 0) })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("");
      if (closed) return null;
      sock.write(`${method} ${path} HTTP/1.1\r\n${head}\r\n`);
      if (body) sock.write(body);
      return next();
    },
    close: () => sock.destroy(),
  };
}

const auth = () => ({ authorization: `Bearer ${s.adminKey}` });

test.each([
  ["img.pro", "/v1/upload", "ttl", "soon"],
  ["native", "/api/v1/images", "visibility", "secret"],
])("%s: a refused field keeps the connection; the next request on it is answered", async (_, path, field, bad) => {
  const before = snapshot(s.dataDir);
  const conn = keptAlive();
  try {
    const form = multipart([
      ["file", jpeg],
      [field, bad],
    ]);
    const refused = await conn.send("POST", path, { ...auth(), "content-type": form.type }, form.body);
    expect(refused?.status).toBe(400);
    expect(refused?.headers.connection).not.toBe("close");
    expect(refused?.body).toContain(field);
    const next = await conn.send("GET", "/health", {});
    expect(next?.status).toBe(200);
  } finally {
    conn.close();
  }
  expect(snapshot(s.dataDir)).toEqual(before);
});

test.each([
  ["img.pro", "/v1/upload", "namespace", "one", "two"],
  ["native", "/api/v1/images", "path", "a/b.jpg", "c/d.jpg"],
  ["native", "/api/v1/images", "visibility", "public", "private"],
])(
  "%s: a single-value field given twice is a 400 naming it (not the last one winning)",
  async (_, path, field, a, b) => {
    expect(big.length).toBeGreaterThan(1 << 20);
    const before = snapshot(s.dataDir);
    const conn = keptAlive();
    try {
      // The file comes after the repeated field: the refusal still waits for the end of the body.
      const form = multipart([
        [field, a],
        [field, b],
        ["file", big],
      ]);
      const refused = await conn.send("POST", path, { ...auth(), "content-type": form.type }, form.body);
      expect(refused?.status).toBe(400);
      expect(refused?.body).toContain(`${field}: given more than once`);
      expect(refused?.headers.connection).not.toBe("close");
      expect((await conn.send("GET", "/health", {}))?.status).toBe(200);
    } finally {
      conn.close();
    }
    expect(snapshot(s.dataDir)).toEqual(before);
  },
);
