// GIF: the size from the logical screen; frames and transparency from the blocks; complete
// when the trailer byte ends the file.

import type { ProbeResult } from "../types.ts";
import type { Bytes } from "./bytes.ts";
import { type Layout, result, TRAILER_SLACK } from "./result.ts";

export function probeGif(r: Bytes): ProbeResult | null {
  r.le = true;
  return result("gif", r.u16(6), r.u16(8));
}

export function gifLayout(r: Bytes): Layout {
  r.le = true;
  let pos = 13;
  const flags = r.u8(10);
  if (flags & 0x80) pos += 3 * 2 ** ((flags & 7) + 1);
  let frames = 0;
  let alpha = false;
  const skipSubBlocks = () => {
    for (let n = r.u8(pos); n > 0; n = r.u8(pos)) pos += n + 1;
    pos += 1;
  };
  while (pos < r.length) {
    const b = r.u8(pos);
    if (b === 0x21) {
      if (r.u8(pos + 1) === 0xf9 && r.u8(pos + 3) & 1) alpha = true;
      pos += 2;
      skipSubBlocks();
    } else if (b === 0x2c) {
      frames++;
      const local = r.u8(pos + 9);
      pos += 10;
      if (local & 0x80) pos += 3 * 2 ** ((local & 7) + 1);
      pos += 1; // LZW minimum code size
      skipSubBlocks();
    } else break; // 0x3B trailer, or something broken: count what was seen
  }
  return { frames: Math.max(1, frames), hasAlpha: alpha };
}

export function gifComplete(tail: Uint8Array): boolean {
  // The trailer byte 0x3B, allowing for padding zeros after it.
  for (let i = tail.length - 1; i >= Math.max(0, tail.length - TRAILER_SLACK); i--) {
    if (tail[i] === 0x3b) return true;
    if (tail[i] !== 0) return false;
  }
  return false;
}
