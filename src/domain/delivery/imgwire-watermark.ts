import type { WatermarkSpec } from "../../../codecs/types.ts";
import { invalid } from "../errors.ts";
import { blend, color, GRAVITY, int, json, num, type Raw, rotation, str } from "./imgwire-params.ts";

// The value grammar of Imgwire's watermark parameters (reference/imgwire/url-parameters.md):
// one image (by id or URL) or text, where it goes, how large, turned and shaded.

export type WatermarkSource = { kind: "image"; id: string } | { kind: "url"; url: string } | { kind: "text" };

/** The watermark parameters as one WatermarkSpec (without the image's hash) and where it comes from. */
export function watermark(
  get: (k: string) => Raw | undefined,
): { spec: WatermarkSpec; source: WatermarkSource } | null {
  const wm = get("watermark");
  const text = get("watermark_text");
  const url = get("watermark_url");
  const given = [wm, text, url].filter(Boolean) as Raw[];
  const extras = ["watermark_position", "watermark_rotate", "watermark_shadow", "watermark_size"]
    .map(get)
    .filter(Boolean) as Raw[];
  if (given.length === 0) {
    if (extras[0]) throw invalid(extras[0].name, "needs a watermark (watermark, watermark_text or watermark_url)");
    return null;
  }
  if (given.length > 1)
    throw invalid(given[1]!.name, `only one of watermark, watermark_text and watermark_url may be given`);
  const spec: WatermarkSpec = { gravity: "southeast", x: 0, y: 0, opacity: 1, blend: "over" };
  let source: WatermarkSource;
  if (wm) {
    const o = json(wm);
    const parts = o
      ? [str(o.image_id ?? o.imageId), ...[o.gravity, o.x, o.y].filter((v) => v !== undefined).map(String)]
      : wm.value.split(":");
    const id = parts[0];
    if (!id) throw invalid(wm.name, "expected image_id[:gravity[:x[:y]]]");
    source = { kind: "image", id };
    if (parts[1] !== undefined) place(wm.name, spec, parts.slice(1) as string[]);
  } else if (url) {
    let decoded: string;
    try {
      decoded = atob(url.value.replace(/-/g, "+").replace(/_/g, "/"));
    } catch {
      throw invalid(url.name, "must be a base64-encoded URL");
    }
    if (!/^https?:\/\//i.test(decoded)) throw invalid(url.name, "must be a base64-encoded http(s) URL");
    source = { kind: "url", url: decoded };
  } else {
    const o = json(text!);
    const t = o ? str(o.text) : text!.value;
    if (!t || t.length > 200) throw invalid(text!.name, "must be 1 to 200 characters of text");
    spec.text = t;
    if (o?.color !== undefined) spec.textColor = color(text!.name, String(o.color));
    if (o?.size !== undefined) spec.textSize = int(text!.name, o.size as number, 4, 1024);
    source = { kind: "text" };
  }
  const pos = get("watermark_position");
  if (pos) {
    const o = json(pos);
    const parts = o
      ? [o.gravity ?? "se", o.x ?? 0, o.y ?? 0, o.opacity ?? 1, o.blend ?? "over"].map(String)
      : pos.value.split(":");
    place(pos.name, spec, parts.slice(0, 3));
    if (parts[3] !== undefined) spec.opacity = num(pos.name, parts[3], 0, 1, "an opacity");
    if (parts[4] !== undefined) spec.blend = blend(pos.name, parts[4]);
  }
  const rot = get("watermark_rotate");
  if (rot) spec.rotate = rotation(rot);
  const sh = get("watermark_shadow");
  if (sh) {
    const o = json(sh);
    const parts = o
      ? [o.color ?? "00000080", o.blur ?? 2, o.x ?? 2, o.y ?? 2].map(String)
      : sh.value.toLowerCase() === "true"
        ? ["00000080", "2", "2", "2"]
        : sh.value.split(":");
    // A colour may itself be r:g:b[:a]: the numbers after it are blur, x and y.
    const hex = /^#?[0-9a-f]{3,8}$/i.test(parts[0]!);
    const col = hex ? parts[0]! : parts.slice(0, 4).join(":");
    const rest = hex ? parts.slice(1) : parts.slice(4);
    spec.shadow = {
      color: color(sh.name, col),
      blur: rest[0] === undefined ? 2 : num(sh.name, rest[0], 0, 50, "a blur"),
      x: rest[1] === undefined ? 2 : int(sh.name, rest[1], -500, 500),
      y: rest[2] === undefined ? 2 : int(sh.name, rest[2], -500, 500),
    };
  }
  const size = get("watermark_size");
  if (size) {
    const o = json(size);
    const [w, h, sc] = o ? [str(o.width), str(o.height), str(o.scale)] : size.value.split(":");
    if (w && w !== "0") spec.width = int(size.name, w, 1, 8192);
    if (h && h !== "0") spec.height = int(size.name, h, 1, 8192);
    if (sc !== undefined) spec.scale = num(size.name, sc, 0.01, 1, "a scale (fraction of the output's width)");
    if (!spec.width && !spec.height && spec.scale === undefined)
      throw invalid(size.name, "expected width[:height[:scale]]");
  }
  return { spec, source };
}

function place(param: string, spec: WatermarkSpec, parts: string[]): void {
  const g = GRAVITY[parts[0]?.toLowerCase() ?? ""];
  if (!g || g === "attention" || g === "entropy")
    throw invalid(param, "gravity must be ce, no, so, ea, we, noea, nowe, soea or sowe");
  spec.gravity = g;
  if (parts[1] !== undefined) spec.x = int(param, parts[1], -8192, 8192);
  if (parts[2] !== undefined) spec.y = int(param, parts[2], -8192, 8192);
}
