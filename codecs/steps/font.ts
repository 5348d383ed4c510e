// Text for watermarks, drawn from the embedded bitmap atlas (font-atlas.gen.ts): wasm-vips is built
// without pango, so `vips text` is not there. One line of printable ASCII; other characters
// show as '?'.

import type { Rgba } from "../types.ts";
import type { Vips, VipsImage } from "../wasm.ts";
import { FONT_CELL, FONT_PNG_BASE64 } from "./font-atlas.gen.ts";

const ATLAS = Uint8Array.from(atob(FONT_PNG_BASE64), (c) => c.charCodeAt(0));

/** The text as an sRGB+alpha image `height` pixels tall, in `color`. */
export function renderText(vips: Vips, text: string, height: number, color: Rgba): VipsImage {
  const owned = new Set<VipsImage>();
  const own = <T extends VipsImage>(i: T) => (owned.add(i), i);
  try {
    const atlas = own(vips.Image.newFromBuffer(ATLAS, ""));
    const mask = atlas.bands > 1 ? own(atlas.extractBand(0)) : atlas;
    const cells = [...(text.length ? text : " ")].map((ch) => {
      const code = ch.charCodeAt(0);
      const i = code >= FONT_CELL.first && code < FONT_CELL.first + FONT_CELL.count ? code - FONT_CELL.first : 31; // '?'
      return own(mask.extractArea(i * FONT_CELL.width, 0, FONT_CELL.width, FONT_CELL.height));
    });
    const line = cells.length === 1 ? cells[0]! : own(vips.Image.arrayjoin(cells, { across: cells.length }));
    const k = height / FONT_CELL.height;
    const sized = k === 1 ? line : own(line.resize(k, { kernel: "lanczos3" }));
    const alpha = own(sized.linear([color[3] / 255], [0]));
    const rgb = own(
      own(vips.Image.black(sized.width, sized.height, { bands: 3 })).linear([0, 0, 0], color.slice(0, 3)),
    );
    const out = own(own(rgb.bandjoin(alpha)).cast("uchar")).copy({ interpretation: "srgb" });
    return out;
  } finally {
    for (const i of owned) i.delete();
  }
}
