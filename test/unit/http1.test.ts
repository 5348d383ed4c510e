import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Http1Error, readResponse } from "../../src/domain/fetcher/http1.ts";

// The HTTP/1.1 response reader the URL fetcher uses over its own connection: the same answer
// wherever the bytes are cut, each framing (Content-Length, chunked, close), and clean refusals.

const enc = new TextEncoder();
const dec = new TextDecoder();

async function* pieces(bytes: Uint8Array, cuts: number[]) {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  let from = 0;
  for (const c of [...points, bytes.length]) {
    yield bytes.slice(from, c);
    from = c;
  }
}

async function read(raw: string | Uint8Array, cuts: number[] = []) {
  const bytes = typeof raw === "string" ? enc.encode(raw) : raw;
  const res = await readResponse(pieces(bytes, cuts));
  const chunks: Uint8Array[] = [];
  for await (const c of res.body) chunks.push(c);
  return { status: res.status, headers: res.headers, body: dec.decode(Buffer.concat(chunks)) };
}

const CHUNKED =
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n";
const EXPECTED = { status: 200, headers: { "transfer-encoding": "chunked", "x-a": "1, 2" }, body: "hello, world" };

describe("http1: framing", () => {
  test("chunked, cut at every position, gives the same response", async () => {
    for (let cut = 0; cut <= CHUNKED.length; cut++) expect(await read(CHUNKED, [cut])).toEqual(EXPECTED);
  });
  test("chunked, one byte at a time", async () => {
    expect(
      await read(
        CHUNKED,
        Array.from({ length: CHUNKED.length }, (_, i) => i),
      ),
    ).toEqual(EXPECTED);
  });
  test("Content-Length stops at the length; extra bytes are not body", async () => {
    expect((await read("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", [20, 38])).body).toBe("hello");
    expect((await read("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello")).body).toBe("hello");
  });
  test("no length: the body runs to the end of the connection", async () => {
    expect((await read("HTTP/1.0 200 OK\r\n\r\nto the end", [3, 21])).body).toBe("to the end");
  });
  test("interim 1xx answers are skipped; a bare LF ends lines too", async () => {
    const r = await read("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\nLocation: /x\n\n");
    expect(r).toEqual({ status: 302, headers: { location: "/x" }, body: "" });
  });
});

describe("http1: refusals", () => {
  const refused = async (raw: string, pattern: RegExp) => {
    const err = await read(raw).then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(Http1Error);
    expect((err as Error).message).toMatch(pattern);
  };
  test("not HTTP", () => refused("SSH-2.0-OpenSSH\r\n\r\n", /not an HTTP\/1.1 response/));
  test("nothing at all", () => refused("", /closed before an answer/));
  test("a head over 64 KiB", () =>
    refused(`HTTP/1.1 200 OK\r\n${"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(3000)}\r\n`, /longer than/));
  test("folded header lines", () => refused("HTTP/1.1 200 OK\r\nX-A: 1\r\n  more\r\n\r\n", /folded/));
  test("a header without a colon", () => refused("HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", /malformed header/));
  test("an unknown transfer coding", () =>
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", /unsupported transfer coding/));
  test("conflicting lengths", () =>
    refused("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello", /invalid Content-Length/));
  test("a body shorter than its length", () =>
    refused("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello", /before the whole body/));
  test("a bad chunk size", () =>
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", /malformed chunk/));
  test("a chunk without its CRLF", () =>
    refused(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
      /malformed chunk|longer than/,
    ));
  test("chunked cut before the last chunk", () =>
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", /before the whole body/));
  test("switching protocols", () =>
    refused("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", /switched protocols/));
});

describe("http1: properties (fast-check)", () => {
  test("any body in any chunk sizes, cut anywhere, reads back exactly", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ maxLength: 40 }), { minLength: 0, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (chunks, seeds) => {
          const parts = chunks.filter((c) => c.length > 0).map((c) => enc.encode(c));
          const framed =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
            parts.map((p) => `${p.length.toString(16)}\r\n${dec.decode(p)}\r\n`).join("") +
            "0\r\n\r\n";
          const bytes = enc.encode(framed);
          const r = await read(
            bytes,
            seeds.map((s) => s % (bytes.length + 1)),
          );
          expect(r.body).toBe(chunks.join(""));
        },
      ),
      { numRuns: 200 },
    );
  });

  test("any bytes at all: a response or an Http1Error, nothing else", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.string({ maxLength: 200 }).map((s) => enc.encode(`HTTP/1.1 200 OK\r\n${s}`)),
        ),
        async (bytes) => {
          try {
            await read(bytes);
          } catch (err) {
            if (!(err instanceof Http1Error)) throw err;
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
