// JPEG XL: the size from the bit-packed SizeHeader of the codestream, bare or in its container.

import type { ProbeResult } from "../types.ts";
import { boxes } from "./bmff.ts";
import { Bytes } from "./bytes.ts";
import { result } from "./result.ts";

/** JPEG XL fields are bit-packed, least significant bit first. */
class Bits {
  private pos = 0;
  constructor(private readonly b: Uint8Array) {}
  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++, this.pos++) {
      const byte = this.b[this.pos >> 3];
      if (byte === undefined) throw new RangeError("end of data");
      v += ((byte >> (this.pos & 7)) & 1) * 2 ** i;
    }
    return v;
  }
}

function jxlCodestream(head: Uint8Array): Uint8Array | null {
  if (head[0] === 0xff && head[1] === 0x0a) return head;
  const r = new Bytes(head);
  for (const b of boxes(r, 0, r.length)) {
    if (b.type === "jxlc") return head.subarray(b.start, b.end);
    if (b.type === "jxlp") return head.subarray(b.start + 4, b.end); // first partial codestream
  }
  return null;
}

export function probeJxl(head: Uint8Array): ProbeResult | null {
  const cs = jxlCodestream(head);
  if (!cs || cs[0] !== 0xff || cs[1] !== 0x0a) return null;
  try {
    const bits = new Bits(cs.subarray(2));
    const size = () => 1 + bits.read([9, 13, 18, 30][bits.read(2)]!);
    const RATIO = [0, 1, 12 / 10, 4 / 3, 3 / 2, 16 / 9, 5 / 4, 2];
    let width: number;
    let height: number;
    if (bits.read(1)) {
      height = (bits.read(5) + 1) * 8;
      const ratio = bits.read(3);
      width = ratio ? Math.floor(height * RATIO[ratio]!) : (bits.read(5) + 1) * 8;
    } else {
      height = size();
      const ratio = bits.read(3);
      width = ratio ? Math.floor(height * RATIO[ratio]!) : size();
    }
    return result("jxl", width, height);
  } catch {
    return null;
  }
}
