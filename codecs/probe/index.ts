// Format and size from the first bytes of a file, without decoding pixels and without wasm:
// the upload path uses it to refuse non-images and decompression bombs before any decoder sees
// them, and the worker to pick the decoder. One module per format (like ../decoders/), each
// defensive: a field that runs past the buffer means "not recognised" (null), never an
// exception. Sizes are as stored (EXIF orientation is the pipeline's business: a pixel count
// does not depend on it). Besides the size: frames and alpha (layout.ts), and whether the file
// is complete (complete.ts).

import type { ProbeResult } from "../types.ts";
import { probeBmp } from "./bmp.ts";
import { Bytes } from "./bytes.ts";
import { probeGif } from "./gif.ts";
import { probeHdr } from "./hdr.ts";
import { probeHeif } from "./heif.ts";
import { probeIco } from "./ico.ts";
import { probeJpeg } from "./jpeg.ts";
import { probeJxl } from "./jxl.ts";
import { probePng } from "./png.ts";
import { probePnm } from "./pnm.ts";
import { probeQoi } from "./qoi.ts";
import { probeSvg } from "./svg.ts";
import { probeTga } from "./tga.ts";
import { probeTiff } from "./tiff.ts";
import { probeWebp } from "./webp.ts";

export { checkComplete } from "./complete.ts";
export { type Layout, probeLayout } from "./layout.ts";

export function probe(head: Uint8Array): ProbeResult | null {
  const r = new Bytes(head);
  if (r.u8(0) === 0xff && r.u8(1) === 0xd8 && r.u8(2) === 0xff) return probeJpeg(r);
  if (r.u32(0) === 0x89504e47 && r.u32(4) === 0x0d0a1a0a) return probePng(r);
  if (r.ascii(0, 4) === "RIFF" && r.ascii(8, 4) === "WEBP") return probeWebp(r);
  if (r.ascii(0, 6) === "GIF87a" || r.ascii(0, 6) === "GIF89a") return probeGif(r);
  if (r.ascii(4, 4) === "ftyp") return probeHeif(r);
  if (r.ascii(0, 4) === "II*\0" || r.ascii(0, 4) === "MM\0*") return probeTiff(r);
  if (r.ascii(0, 2) === "BM") return probeBmp(r);
  if (r.u32(0) === 0x00000100) return probeIco(r);
  if ((r.u8(0) === 0xff && r.u8(1) === 0x0a) || r.ascii(4, 8) === "JXL \r\n\x87\n") return probeJxl(head);
  if (r.ascii(0, 4) === "qoif") return probeQoi(r);
  if (r.u8(0) === 0x50 && /^P[1-7Ff]\s$/.test(r.ascii(0, 3))) return probePnm(head);
  if (r.ascii(0, 2) === "#?") return probeHdr(head);
  return probeSvg(head) ?? probeTga(r);
}

/** What probe() recognises, for messages that tell a user what to send instead. */
export const SUPPORTED_INPUTS =
  "JPEG, PNG, WebP, GIF, AVIF, HEIC/HEIF, TIFF, BMP, ICO, SVG, JPEG XL, TGA, QOI, PNM (PBM, PGM, PPM, PAM) and Radiance HDR";

/** Formats recognised only to be refused with a reason (a message naming what to do). */
export function unsupportedFormat(head: Uint8Array): string | null {
  const r = new Bytes(head);
  if (r.u32(0) === 0x762f3101) {
    return "OpenEXR is not supported (no maintained WebAssembly OpenEXR decoder exists): convert it to 16-bit TIFF or PNG, or Radiance HDR";
  }
  return null;
}
