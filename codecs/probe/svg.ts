// SVG: the root element's width and height (px or unitless), else its viewBox, else the CSS
// default object size.

import type { ProbeResult } from "../types.ts";
import { result } from "./result.ts";

const SVG_DEFAULT = { width: 300, height: 150 }; // the CSS default object size

/** A length in px (or unitless); anything relative or physical counts as absent. */
function svgLength(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*([+]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(px)?\s*$/i.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n > 0 && Number.isFinite(n) ? n : undefined;
}

export function probeSvg(head: Uint8Array): ProbeResult | null {
  // Only the beginning matters; decoding a whole 1 MiB as text would be waste.
  let text = new TextDecoder("utf-8", { fatal: false }).decode(head.subarray(0, 64 * 1024));
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let i = 0;
  // Skip the prolog: whitespace, <?xml ?>, comments, doctype (with an internal subset).
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text.startsWith("<?", i)) {
      const e = text.indexOf("?>", i);
      if (e < 0) return null;
      i = e + 2;
    } else if (text.startsWith("<!--", i)) {
      const e = text.indexOf("-->", i);
      if (e < 0) return null;
      i = e + 3;
    } else if (text.startsWith("<!DOCTYPE", i) || text.startsWith("<!doctype", i)) {
      const bracket = text.indexOf("[", i);
      const close = text.indexOf(">", i);
      if (close < 0) return null;
      if (bracket >= 0 && bracket < close) {
        const e = text.indexOf("]", bracket);
        if (e < 0) return null;
        const e2 = text.indexOf(">", e);
        if (e2 < 0) return null;
        i = e2 + 1;
      } else i = close + 1;
    } else break;
  }
  const tag = /^<svg(?=[\s/>])/.exec(text.slice(i, i + 5));
  if (!tag) return null;
  // The opening tag ends at the first '>' outside quotes.
  let end = i + 4;
  let quote = "";
  for (; end < text.length; end++) {
    const c = text[end]!;
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ">") break;
  }
  if (end >= text.length) return null;
  const attrs = new Map<string, string>();
  for (const m of text.slice(i + 4, end).matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    attrs.set(m[1]!, m[2] ?? m[3] ?? "");
  }
  let width = svgLength(attrs.get("width"));
  let height = svgLength(attrs.get("height"));
  const vb = (attrs.get("viewBox") ?? "")
    .trim()
    .split(/[\s,]+/)
    .map(Number);
  const vbw = vb.length === 4 && vb[2]! > 0 ? vb[2]! : undefined;
  const vbh = vb.length === 4 && vb[3]! > 0 ? vb[3]! : undefined;
  if (vbw !== undefined && vbh !== undefined) {
    if (width === undefined && height === undefined) {
      width = vbw;
      height = vbh;
    } else if (width === undefined) width = (height! * vbw) / vbh;
    else if (height === undefined) height = (width * vbh) / vbw;
  }
  return result(
    "svg",
    Math.max(1, Math.round(width ?? SVG_DEFAULT.width)),
    Math.max(1, Math.round(height ?? SVG_DEFAULT.height)),
  );
}
