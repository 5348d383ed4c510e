import fc from "fast-check";

// Byte-level mutations of real files for fuzzing: biased to the first bytes, where signatures,
// headers, boxes and segment lengths are; wide values are the ones that break length arithmetic.

export interface Mutation {
  at: number;
  kind: "set" | "flip" | "u32" | "insert" | "delete" | "truncate";
  value: number;
  wide: number;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.oneof(fc.nat({ max: 64 }), fc.nat({ max: 1024 }), fc.nat({ max: 65535 })),
  kind: fc.constantFrom("set", "flip", "u32", "insert", "delete", "truncate"),
  value: fc.oneof(fc.constantFrom(0, 0xff, 0x7f, 0x80, 1), fc.nat({ max: 255 })),
  wide: fc.constantFrom(0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 0xffff, 8, 16),
});

export function mutate(src: Uint8Array, edits: Mutation[]): Uint8Array {
  let b = src.slice();
  for (const e of edits) {
    const i = e.at % (b.length + 1);
    if (e.kind === "set" && i < b.length) b[i] = e.value;
    else if (e.kind === "flip" && i < b.length) b[i] ^= 1 << (e.value % 8);
    else if (e.kind === "u32")
      for (let k = 0; k < 4 && i + k < b.length; k++) b[i + k] = (e.wide >>> (24 - 8 * k)) & 0xff;
    else if (e.kind === "insert") b = Buffer.concat([b.subarray(0, i), new Uint8Array([e.value]), b.subarray(i)]);
    else if (e.kind === "delete") b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + (e.value % 16))]);
    else if (e.kind === "truncate") b = b.slice(0, i);
  }
  return b;
}
