import { describe, expect, test } from "bun:test";
import busboy from "busboy";
import fc from "fast-check";
import { MultipartError } from "../../src/http/multipart.ts";
import { buildBody, chunked, concat, type Field, parseAll } from "../unit/multipart-helpers.ts";

// imgd's multipart reader against busboy as the reference (busboy is used here only): for any
// well-formed body cut anywhere both read the same parts; for any mangled body imgd either reads
// parts or refuses with a MultipartError, never another exception and never a hang.

const enc = new TextEncoder();
const dec = new TextDecoder();

/** busboy's reading of a body: the parts in order, or the error it raised. */
function reference(body: Uint8Array, boundary: string, cuts: number[]): Promise<Field[] | Error> {
  return new Promise((resolve) => {
    const out: (Field | Promise<Field>)[] = [];
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: { "content-type": `multipart/form-data; boundary="${boundary}"` },
        preservePath: true,
        limits: { fieldSize: 1 << 30 },
      });
    } catch (err) {
      return resolve(err as Error);
    }
    bb.on("file", (name, stream, info) => {
      const chunks: Uint8Array[] = [];
      out.push(
        new Promise<Field>((done) => {
          stream.on("data", (c: Uint8Array) => chunks.push(c));
          stream.on("error", () =>
            done({ name, filename: info.filename, contentType: info.mimeType, data: concat(chunks) }),
          );
          stream.on("end", () =>
            done({ name, filename: info.filename, contentType: info.mimeType, data: concat(chunks) }),
          );
        }),
      );
    });
    bb.on("field", (name, value) => out.push({ name, data: enc.encode(value) }));
    bb.on("error", (err) => resolve(err as Error));
    bb.on("close", async () => resolve(await Promise.all(out)));
    let from = 0;
    for (const c of [
      ...[...new Set(cuts)].filter((c) => c > 0 && c < body.length).sort((a, b) => a - b),
      body.length,
    ]) {
      bb.write(body.subarray(from, c));
      from = c;
    }
    bb.end();
  });
}

const boundary = fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/);
const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,11}$/);
const interesting = (b: string) =>
  fc.oneof(fc.constantFrom(13, 10, 45, ...enc.encode(b.slice(0, 8))), fc.integer({ min: 0, max: 255 }));
// Files carry their bytes as they are; fields are text (busboy hands them on decoded).
const file = (b: string): fc.Arbitrary<Field> =>
  fc.record({
    name,
    filename: fc.stringMatching(/^[a-z0-9_-]{1,10}\.(png|jpg|webp)$/),
    contentType: fc.constantFrom("image/png", "image/jpeg", "application/octet-stream"),
    data: fc.array(interesting(b), { maxLength: 400 }).map((a) => new Uint8Array(a)),
  });
const field: fc.Arbitrary<Field> = fc.record({ name, data: fc.string({ maxLength: 60 }).map((s) => enc.encode(s)) });

/** A body whose parts do not contain their own delimiter (a sender picks its boundary so). */
const wellFormed = boundary.chain((b) =>
  fc
    .array(fc.oneof(file(b), field), { minLength: 1, maxLength: 6 })
    .filter((fields) => {
      const delim = enc.encode(`\r\n--${b}`);
      return fields.every((f) => {
        const d = concat([enc.encode("\r\n"), f.data, enc.encode("\r\n")]);
        for (let i = 0; i + delim.length <= d.length; i++) if (delim.every((x, j) => d[i + j] === x)) return false;
        return true;
      });
    })
    .map((fields) => ({ b, fields, body: buildBody(fields, b) })),
);
const cuts = fc.array(fc.nat(), { maxLength: 8 });

describe("multipart fuzz (busboy as the reference)", () => {
  test("well-formed bodies, cut anywhere: imgd reads what was sent, as busboy does", async () => {
    await fc.assert(
      fc.asyncProperty(wellFormed, cuts, async ({ b, fields, body }, seeds) => {
        const at = seeds.map((s) => s % (body.length + 1));
        const ours = await parseAll(chunked(body, at), b);
        const theirs = await reference(body, b, at);
        if (theirs instanceof Error) throw new Error(`busboy refused a well-formed body: ${theirs.message}`);
        expect(ours).toEqual(fields);
        expect(ours.map((f) => [f.name, f.filename, dec.decode(f.data)])).toEqual(
          theirs.map((f) => [f.name, f.filename, dec.decode(f.data)]),
        );
      }),
      { numRuns: 150 },
    );
  });

  test("mangled bodies: parts or a MultipartError, never another exception or a hang; every file busboy reads, imgd reads", async () => {
    const edit = fc.record({
      at: fc.nat(),
      kind: fc.constantFrom("set", "insert", "delete", "truncate"),
      byte: fc.oneof(fc.constantFrom(13, 10, 45, 34, 59, 0), fc.integer({ min: 0, max: 255 })),
    });
    await fc.assert(
      fc.asyncProperty(
        wellFormed,
        fc.array(edit, { minLength: 1, maxLength: 6 }),
        cuts,
        async ({ b, body }, edits, seeds) => {
          let bytes = Array.from(body);
          for (const e of edits) {
            const i = e.at % (bytes.length + 1);
            if (e.kind === "set" && i < bytes.length) bytes[i] = e.byte;
            else if (e.kind === "insert") bytes.splice(i, 0, e.byte);
            else if (e.kind === "delete") bytes.splice(i, 1);
            else if (e.kind === "truncate") bytes = bytes.slice(0, i);
          }
          const mangled = new Uint8Array(bytes);
          const at = seeds.map((s) => s % (mangled.length + 1));
          let ours: Field[] | MultipartError;
          const started = performance.now();
          try {
            ours = await parseAll(chunked(mangled, at), b);
          } catch (err) {
            if (!(err instanceof MultipartError)) throw err;
            ours = err;
          }
          expect(performance.now() - started).toBeLessThan(5000); // a hang, not a slow machine
          const theirs = await reference(mangled, b, at);
          if (!(ours instanceof MultipartError) && !(theirs instanceof Error)) {
            // Every file busboy found, imgd found too, byte for byte and in order. imgd may find
            // more: it takes a part whatever its disposition type ("form-data" by RFC 7578),
            // where busboy skips the part. Names are not compared: a mangled byte in a header is
            // latin1 to busboy and UTF-8 (a replacement character) to imgd.
            const files = (fs: Field[]) =>
              fs.filter((f) => f.filename !== undefined).map((f) => Array.from(f.data).join(","));
            const mine = files(ours);
            let i = 0;
            for (const f of files(theirs)) {
              while (i < mine.length && mine[i] !== f) i++;
              if (i === mine.length) throw new Error(`busboy read a file imgd did not: ${f.slice(0, 200)}`);
              i++;
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
