import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodeCanonical, TOKEN_KINDS, type TokenPurpose, Tokens } from "../../src/domain/tokens/tokens.ts";

const NOW = 1_800_000_000_000;
const secret = new Uint8Array(32).fill(7);
const tokens = new Tokens(secret, () => NOW);
const purposes = Object.keys(TOKEN_KINDS) as TokenPurpose[];
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const purpose = fc.constantFrom(...purposes);
const fields = fc.array(fc.string({ maxLength: 40 }), { maxLength: 4 });
const future = fc.integer({ min: NOW / 1000 + 1, max: NOW / 1000 + 10 * 365 * 86400 });

/** `token` with the character at `at` replaced by another one (of any kind). */
function mutate(token: string, at: number, by: string): string {
  const i = at % token.length;
  const other = by === token[i] ? (by === "A" ? "B" : "A") : by;
  return token.slice(0, i) + other + token.slice(i + 1);
}

describe("wire formats", () => {
  test("each kind keeps the length and alphabet its clients see", () => {
    expect(tokens.sign("delivery-url", ["u", "p", ""])).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokens.sign("imgpro-cursor", ["x"])).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(tokens.sign("imgwire-upload-url", ["id", "1"])).toMatch(/^[0-9a-f]{64}$/);
    expect(tokens.sign("imgwire-download-url", ["id", "1"])).toMatch(/^[0-9a-f]{64}$/);
    expect(tokens.sign("domain-claim", [])).toMatch(/^[0-9a-f]{32}$/);
  });

  test("the same input gives the same token; another secret another", () => {
    expect(tokens.sign("delivery-url", ["a"])).toBe(new Tokens(secret, () => 0).sign("delivery-url", ["a"]));
    expect(tokens.sign("delivery-url", ["a"])).not.toBe(
      new Tokens(new Uint8Array(32), () => 0).sign("delivery-url", ["a"]),
    );
  });

  test("fields are bound unambiguously: moving a separator changes the token", () => {
    expect(tokens.sign("delivery-url", ["a\nb", "c"])).not.toBe(tokens.sign("delivery-url", ["a", "b\nc"]));
    expect(tokens.sign("delivery-url", ["ab", ""])).not.toBe(tokens.sign("delivery-url", ["a", "b"]));
    expect(tokens.sign("delivery-url", ["a"])).not.toBe(tokens.sign("delivery-url", ["a", ""]));
  });
});

describe("canonical encoding", () => {
  test("a 32-byte MAC's last base64url character: only the spelling with zero unused bits decodes", () => {
    // 32 bytes = 256 bits in 43 characters (258 bits): the last character's 2 low bits are unused.
    const bytes = new Uint8Array(32).fill(0xff);
    const canonical = Buffer.from(bytes).toString("base64url");
    expect(canonical.endsWith("8")).toBe(true);
    expect(decodeCanonical(canonical, 32, "base64url")).toEqual(Buffer.from(bytes));
    // "9", "-", "_" carry the same 4 data bits and differ only in the unused two.
    for (const alias of ["9", "-", "_"]) {
      const spelled = canonical.slice(0, -1) + alias;
      expect(Buffer.from(spelled, "base64url")).toEqual(Buffer.from(bytes));
      expect(decodeCanonical(spelled, 32, "base64url")).toBeNull();
    }
  });

  test("every non-canonical spelling of a real token is refused by check", () => {
    const token = tokens.sign("delivery-url", ["u", "p", "w=1"]);
    const last = B64.indexOf(token.at(-1)!);
    expect(last % 4).toBe(0);
    for (let low = 1; low < 4; low++) {
      const alias = token.slice(0, -1) + B64[last + low];
      expect(Buffer.from(alias, "base64url")).toEqual(Buffer.from(token, "base64url"));
      expect(tokens.check("delivery-url", ["u", "p", "w=1"], alias)).toBe(false);
    }
    expect(tokens.check("delivery-url", ["u", "p", "w=1"], token)).toBe(true);
  });

  test("padding, standard base64, upper-case hex, whitespace and wrong lengths are refused", () => {
    const b = tokens.sign("delivery-url", ["x"]);
    const h = tokens.sign("imgwire-upload-url", ["x"]);
    for (const bad of [
      `${b}=`,
      b.replaceAll("-", "+").replaceAll("_", "/") + (/[-_]/.test(b) ? "" : "+"),
      ` ${b}`,
      `${b}\n`,
      b.slice(1),
      `${b}A`,
      "",
    ]) {
      expect(tokens.check("delivery-url", ["x"], bad)).toBe(false);
    }
    for (const bad of [h.toUpperCase(), ` ${h}`, h.slice(2), `${h}00`, `0x${h.slice(2)}`]) {
      if (bad === h) continue;
      expect(tokens.check("imgwire-upload-url", ["x"], bad)).toBe(false);
    }
    expect(tokens.check("imgwire-upload-url", ["x"], h)).toBe(true);
  });
});

describe("properties", () => {
  test("a token verifies for its own purpose and fields", () => {
    fc.assert(
      fc.property(purpose, fields, (p, f) => tokens.check(p, f, tokens.sign(p, f))),
      { numRuns: 300 },
    );
  });

  test("any single-character change of a token fails to verify", () => {
    const anyChar = fc.oneof(fc.constantFrom(...B64, ..."0123456789abcdef"), fc.string({ minLength: 1, maxLength: 1 }));
    fc.assert(
      fc.property(purpose, fields, fc.nat(), anyChar, (p, f, at, by) => {
        const token = tokens.sign(p, f);
        const bad = mutate(token, at, by);
        expect(bad).not.toBe(token);
        return !tokens.check(p, f, bad);
      }),
      { numRuns: 2000 },
    );
  });

  test("any single-byte change of a token's bytes fails to verify", () => {
    fc.assert(
      fc.property(purpose, fields, fc.nat(), fc.integer({ min: 1, max: 255 }), (p, f, at, xor) => {
        const { encoding } = TOKEN_KINDS[p];
        const bytes = Buffer.from(tokens.sign(p, f), encoding);
        bytes[at % bytes.length] ^= xor;
        return !tokens.check(p, f, bytes.toString(encoding));
      }),
      { numRuns: 1000 },
    );
  });

  test("a token of purpose A never verifies as purpose B, whatever the encodings", () => {
    fc.assert(
      fc.property(purpose, purpose, fields, (a, b, f) => {
        fc.pre(a !== b);
        const token = tokens.sign(a, f);
        // Also the same MAC re-spelled in B's encoding and length, where that is possible.
        const bytes = Buffer.from(token, TOKEN_KINDS[a].encoding).subarray(0, TOKEN_KINDS[b].bytes);
        return !tokens.check(b, f, token) && !tokens.check(b, f, bytes.toString(TOKEN_KINDS[b].encoding));
      }),
      { numRuns: 500 },
    );
  });

  test("changing any field fails to verify", () => {
    fc.assert(
      fc.property(
        purpose,
        fc.array(fc.string(), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.string(),
        (p, f, at, value) => {
          const i = at % f.length;
          fc.pre(f[i] !== value);
          const changed = f.with(i, value);
          return !tokens.check(p, changed, tokens.sign(p, f));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("expiry", () => {
  test("valid before its expiry, expired at and after it", () => {
    fc.assert(
      fc.property(purpose, fields, future, (p, f, exp) => {
        const token = tokens.signExpiring(p, f, exp);
        expect(tokens.checkExpiring(p, f, String(exp), token)).toBe("valid");
        const later = new Tokens(secret, () => exp * 1000);
        expect(later.checkExpiring(p, f, String(exp), token)).toBe("expired");
        expect(new Tokens(secret, () => exp * 1000 + 1).checkExpiring(p, f, String(exp), token)).toBe("expired");
      }),
      { numRuns: 200 },
    );
  });

  test("a moved expiry, a malformed one, or none at all does not verify", () => {
    const exp = NOW / 1000 + 60;
    const token = tokens.signExpiring("delivery-url", ["u"], exp);
    expect(tokens.checkExpiring("delivery-url", ["u"], String(exp + 1), token)).toBe("invalid");
    expect(tokens.checkExpiring("delivery-url", ["u"], `0${exp}`, token)).toBe("invalid");
    expect(tokens.checkExpiring("delivery-url", ["u"], `${exp}.0`, token)).toBe("invalid");
    expect(tokens.checkExpiring("delivery-url", ["u"], "1".repeat(13), token)).toBe("invalid");
    expect(tokens.checkExpiring("delivery-url", ["u"], undefined, token)).toBe("missing");
    expect(tokens.checkExpiring("delivery-url", ["u"], String(exp), null)).toBe("missing");
    // An expired token with a wrong MAC is reported invalid, never as merely expired.
    const past = NOW / 1000 - 60;
    expect(
      tokens.checkExpiring("delivery-url", ["u"], String(past), tokens.signExpiring("delivery-url", ["u"], past)),
    ).toBe("expired");
    expect(tokens.checkExpiring("delivery-url", ["u"], String(past), token)).toBe("invalid");
  });
});

describe("sealed values", () => {
  test("round trip, and any change of either part is refused", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.nat(), fc.constantFrom(...B64, "."), (value, at, by) => {
        const sealed = tokens.seal("imgpro-cursor", value);
        expect(tokens.open("imgpro-cursor", sealed)).toBe(value);
        return tokens.open("imgpro-cursor", mutate(sealed, at, by)) === null;
      }),
      { numRuns: 1000 },
    );
  });

  test("a sealed value is not open under another purpose; garbage is null", () => {
    const sealed = tokens.seal("imgpro-cursor", '{"after":"x"}');
    for (const p of purposes.filter((p) => p !== "imgpro-cursor")) expect(tokens.open(p, sealed)).toBeNull();
    for (const g of ["", ".", "garbage", "a.b.c", `${sealed}.`, sealed.split(".")[0]])
      expect(tokens.open("imgpro-cursor", g)).toBeNull();
  });
});
