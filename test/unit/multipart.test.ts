import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { boundaryOf, MultipartError, parseMultipart, readField } from "../../src/http/multipart.ts";
import { buildBody, chunked, concat, type Field, parseAll } from "./multipart-helpers.ts";

// The streaming multipart reader (src/http/multipart.ts): where the network cuts the body must
// not change what is read. Every cut position through a body with delimiters in it, every
// chunk size, then fast-check for bodies and cuts nobody thought of.

const enc = new TextEncoder();
const BOUNDARY = "----imgdBoundary7MA4YWxkTrZu0gW";

// Bytes that look like the start of a delimiter sit inside the file, so a cut there tests the
// parser's hold-back of a possible delimiter.
const FIELDS: Field[] = [
  { name: "namespace", data: enc.encode("photos") },
  {
    name: "file",
    filename: "a.png",
    contentType: "image/png",
    data: concat([
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 0x1a, 10]),
      enc.encode(`\r\n--${BOUNDARY.slice(0, 10)}`),
      new Uint8Array([0, 255, 13, 10, 45, 45]),
    ]),
  },
  { name: "description", data: enc.encode("line one\r\nline two --") },
];
const BODY = buildBody(FIELDS, BOUNDARY);

describe("multipart: one cut at every position", () => {
  test(`all ${BODY.length + 1} two-piece splits give the same fields`, async () => {
    for (let cut = 0; cut <= BODY.length; cut++) {
      const got = await parseAll(chunked(BODY, [cut]), BOUNDARY);
      if (!Bun.deepEquals(got, FIELDS)) throw new Error(`cut at ${cut}: ${JSON.stringify(got)}`);
    }
  });

  test("two cuts around every delimiter (every pair from 4 bytes before to 6 after it)", async () => {
    const delim = enc.encode(`--${BOUNDARY}`);
    const starts: number[] = [];
    for (let i = 0; i + delim.length <= BODY.length; i++) {
      if (delim.every((b, j) => BODY[i + j] === b)) starts.push(i);
    }
    expect(starts.length).toBe(FIELDS.length + 1);
    for (const s of starts) {
      const lo = Math.max(0, s - 4);
      const hi = Math.min(BODY.length, s + delim.length + 6);
      for (let a = lo; a <= hi; a++) {
        for (let b = a; b <= hi; b++) {
          const got = await parseAll(chunked(BODY, [a, b]), BOUNDARY);
          if (!Bun.deepEquals(got, FIELDS)) throw new Error(`cuts at ${a}, ${b}: ${JSON.stringify(got)}`);
        }
      }
    }
  });

  test("every chunk size from 1 byte up", async () => {
    for (let size = 1; size <= 80; size++) {
      const cuts = Array.from({ length: Math.ceil(BODY.length / size) }, (_, i) => i * size);
      expect(await parseAll(chunked(BODY, cuts), BOUNDARY)).toEqual(FIELDS);
    }
  });

  test("a preamble and an epilogue are skipped", async () => {
    const body = buildBody(FIELDS, BOUNDARY, { preamble: "This is a multi-part message.", epilogue: "bye" });
    for (const cut of [1, 17, 40, body.length - 3])
      expect(await parseAll(chunked(body, [cut]), BOUNDARY)).toEqual(FIELDS);
  });
});

describe("multipart: refusals", () => {
  const refuses = async (body: Uint8Array | string, pattern: RegExp, maxParts?: number) => {
    const bytes = typeof body === "string" ? enc.encode(body) : body;
    // In 1 KiB pieces, as a network hands them: the limits on headers and epilogue are checked
    // as data arrives (what came in one piece is already in memory anyway).
    const cuts = Array.from({ length: Math.ceil(bytes.length / 1024) }, (_, i) => i * 1024 + 3);
    const err = await parseAll(chunked(bytes, cuts), BOUNDARY, maxParts).then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(MultipartError);
    expect((err as Error).message).toMatch(pattern);
  };

  test("a body without the boundary", () => refuses("just some bytes", /no form-data boundary/));
  test("a body cut inside a part", () => refuses(BODY.subarray(0, BODY.length - 40), /cut off|ended/));
  test("a body cut inside the headers", () =>
    refuses(`--${BOUNDARY}\r\nContent-Disposition: form-da`, /ended inside form field headers/));
  test("a part without a name", () =>
    refuses(`--${BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${BOUNDARY}--`, /has no name/));
  test("a malformed boundary line", () =>
    refuses(
      `--${BOUNDARY}XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--${BOUNDARY}--`,
      /malformed boundary line/,
    ));
  test("headers over 16 KiB", () =>
    refuses(`--${BOUNDARY}\r\nX-Pad: ${"a".repeat(17 * 1024)}\r\n\r\nx\r\n--${BOUNDARY}--`, /headers are too large/));
  test("more parts than allowed", () =>
    refuses(
      buildBody(
        Array.from({ length: 4 }, (_, i) => ({ name: `f${i}`, data: enc.encode("x") })),
        BOUNDARY,
      ),
      /more than 3 form fields/,
      3,
    ));
  test("too much after the closing boundary", () =>
    refuses(buildBody(FIELDS, BOUNDARY, { epilogue: "e".repeat(70 * 1024) }), /after the closing boundary/));

  test("a part that is not read before the next one is asked for is drained, not mixed up", async () => {
    const names: string[] = [];
    for await (const part of parseMultipart(chunked(BODY, [7, 99]), BOUNDARY)) names.push(part.name);
    expect(names).toEqual(FIELDS.map((f) => f.name));
  });

  test("readField refuses a field over its limit and decodes UTF-8", async () => {
    const body = buildBody(
      [
        { name: "t", data: enc.encode("héllo wörld") },
        { name: "big", data: new Uint8Array(100).fill(97) },
      ],
      BOUNDARY,
    );
    const it = parseMultipart(chunked(body, [5, 60]), BOUNDARY);
    const first = await it.next();
    expect(await readField(first.value!, 64)).toBe("héllo wörld");
    const second = await it.next();
    expect(readField(second.value!, 50)).rejects.toThrow(/longer than 50 bytes/);
  });
});

describe("multipart: headers", () => {
  test("filename* (RFC 5987) wins over filename, quoted escapes are undone", async () => {
    const body = enc.encode(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="plain.jpg"; filename*=UTF-8''%C3%A9t%C3%A9.jpg\r\nContent-Type: image/jpeg\r\n\r\nJ\r\n` +
        `--${BOUNDARY}\r\ncontent-disposition: form-data; name="q\\"uote"\r\n\r\nv\r\n--${BOUNDARY}--`,
    );
    expect(await parseAll(chunked(body, [20]), BOUNDARY)).toEqual([
      { name: "file", filename: "été.jpg", contentType: "image/jpeg", data: enc.encode("J") },
      { name: 'q"uote', data: enc.encode("v") },
    ]);
  });

  test("boundaryOf: quoted, unquoted, case, and what is not multipart", () => {
    expect(boundaryOf('multipart/form-data; boundary="a b"')).toBe("a b");
    expect(boundaryOf("Multipart/Form-Data; charset=utf-8; BOUNDARY=xyz")).toBe("xyz");
    expect(boundaryOf("multipart/form-data")).toBeNull();
    expect(boundaryOf("application/json; boundary=x")).toBeNull();
    expect(boundaryOf(`multipart/form-data; boundary=${"x".repeat(71)}`)).toBeNull();
    expect(boundaryOf(undefined)).toBeNull();
  });
});

describe("multipart: properties (fast-check)", () => {
  // Field data drawn to include the boundary's own bytes, CR, LF and dashes often.
  const byte = fc.oneof(
    fc.constantFrom(13, 10, 45, ...enc.encode(BOUNDARY.slice(4, 10))),
    fc.integer({ min: 0, max: 255 }),
  );
  const data = fc.array(byte, { maxLength: 300 }).map((a) => new Uint8Array(a));
  const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,11}$/);
  const field: fc.Arbitrary<Field> = fc.record(
    {
      name,
      filename: fc.stringMatching(/^[a-z0-9]{1,8}\.(png|jpg)$/),
      contentType: fc.constantFrom("image/png", "application/octet-stream"),
      data,
    },
    { requiredKeys: ["name", "data"] },
  );
  const boundary = fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/).filter((b) => !b.endsWith(" "));

  test("any fields, any boundary, cut anywhere: read back exactly", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(field, { minLength: 1, maxLength: 5 }),
        boundary,
        fc.array(fc.nat(), { maxLength: 12 }),
        async (fields, b, cutSeeds) => {
          // A field's data must not contain its own delimiter (a sender picks a boundary that way).
          const delim = enc.encode(`\r\n--${b}`);
          const body = buildBody(fields, b);
          const inner = fields.some((f) => {
            const d = concat([enc.encode("\r\n"), f.data, enc.encode("\r\n")]);
            for (let i = 0; i + delim.length <= d.length - 2; i++)
              if (delim.every((x, j) => d[i + j] === x)) return true;
            return false;
          });
          fc.pre(!inner);
          const cuts = cutSeeds.map((s) => s % (body.length + 1));
          expect(await parseAll(chunked(body, cuts), b)).toEqual(fields);
        },
      ),
      { numRuns: 300 },
    );
  });
});
