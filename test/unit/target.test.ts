import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { matchesEtag } from "../../src/domain/delivery/etag.ts";
import { readTarget } from "../../src/http/target.ts";

// The front router reads a request's URL once, by slicing the string (no full parse on the
// hot path); every route then takes its path and query from that reading. It must agree with
// a full URL parse on every URL a Request can carry.

describe("readTarget: the one reading of a request's URL", () => {
  test("agrees with a full URL parse on the path and the query", () => {
    const part = fc.stringMatching(/^[A-Za-z0-9._~%@:+!$&'()*,;=-]{0,12}$/);
    fc.assert(
      fc.property(
        fc.array(part, { maxLength: 5 }),
        fc.option(fc.array(fc.tuple(part, part), { maxLength: 4 })),
        (segs, q) => {
          const query = q === null ? "" : `?${q.map(([k, v]) => `${k}=${v}`).join("&")}`;
          let url: string;
          try {
            // As the runtime hands it over: normalised by the Request constructor.
            url = new Request(`http://example.test:8080/${segs.join("/")}${query}`).url;
          } catch {
            return;
          }
          const full = new URL(url);
          const read = readTarget(url);
          expect(read.pathname).toBe(full.pathname);
          expect(read.search.toString()).toBe(full.searchParams.toString());
          expect(read.query).toBe(full.search);
        },
      ),
      { numRuns: 500 },
    );
  });

  test("a fragment is not part of the query; a URL without a path is /", () => {
    expect(readTarget("http://h/i/u/p.jpg?w=1#x")).toMatchObject({ pathname: "/i/u/p.jpg" });
    expect(readTarget("http://h/i/u/p.jpg?w=1#x").search.get("w")).toBe("1");
    expect(readTarget("http://h/i/u/p.jpg#x?w=1").search.size).toBe(0);
    expect(readTarget("http://h").pathname).toBe("/");
  });
});

test("If-None-Match: strong, weak, listed and * match; others do not", () => {
  expect(matchesEtag('"a"', '"a"')).toBe(true);
  expect(matchesEtag('W/"a"', '"a"')).toBe(true);
  expect(matchesEtag('"b", "a"', '"a"')).toBe(true);
  expect(matchesEtag("*", '"a"')).toBe(true);
  expect(matchesEtag('"b"', '"a"')).toBe(false);
  expect(matchesEtag(null, '"a"')).toBe(false);
  expect(matchesEtag(undefined, '"a"')).toBe(false);
});
