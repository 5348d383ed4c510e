// Netpbm (PBM, PGM, PPM, PFM) and PAM: the size from the text header; alpha from PAM's tuple type.

import type { ProbeResult } from "../types.ts";
import { result } from "./result.ts";

const PNM_MIME: Record<string, string> = {
  P1: "image/x-portable-bitmap",
  P4: "image/x-portable-bitmap",
  P2: "image/x-portable-graymap",
  P5: "image/x-portable-graymap",
  P3: "image/x-portable-pixmap",
  P6: "image/x-portable-pixmap",
  P7: "image/x-portable-arbitrarymap",
  PF: "image/x-portable-floatmap",
  Pf: "image/x-portable-floatmap",
};

export /** Netpbm: "P1"–"P6" and "PF"/"Pf" then width and height as text (comments allowed); PAM's keyed header. */
function probePnm(head: Uint8Array): ProbeResult | null {
  const text = new TextDecoder("latin1").decode(head.subarray(0, 1024));
  const magic = text.slice(0, 2);
  if (magic === "P7") {
    const w = /\nWIDTH\s+(\d{1,9})\s/.exec(text);
    const h = /\nHEIGHT\s+(\d{1,9})\s/.exec(text);
    if (!w || !h || !text.includes("ENDHDR\n")) return null;
    return result("pnm", Number(w[1]), Number(h[1]), PNM_MIME.P7);
  }
  const tokens = text
    .slice(2)
    .replace(/#[^\n]*\n/g, " ")
    .trim()
    .split(/\s+/);
  if (!/^\d{1,9}$/.test(tokens[0] ?? "") || !/^\d{1,9}$/.test(tokens[1] ?? "")) return null;
  return result("pnm", Number(tokens[0]), Number(tokens[1]), PNM_MIME[magic]);
}
