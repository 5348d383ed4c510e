// metadata: what survives in the output file: EXIF/XMP/IPTC only on request, the sRGB profile
// if the source was tagged, or the profile spec.colorProfile asks for; sets `s.keep` for encode.

import { removeGps, xmpHasGps } from "../metadata/exif.ts";
import type { VipsImage } from "../wasm.ts";
import type { State, Step } from "./state.ts";

export const metadata: Step = {
  name: "metadata",
  run(s) {
    // After `srgb` the only profile an image can carry is libvips' compact sRGB one
    // (480 bytes), attached when the source was tagged; untagged output means sRGB anyway.
    const spec = s.spec;
    s.keep = spec.keepMetadata ? "all" : s.hadProfile ? "icc" : "none";
    const bits = s.format === "png" || s.format === "tiff" || s.format === "avif";
    if (spec.colorProfile === "rgb16" && bits) s.replace(s.image.colourspace("rgb16"));
    else if (spec.colorProfile === "cmyk" && (s.format === "jpeg" || s.format === "tiff")) {
      s.replace(s.image.iccTransform("cmyk", { depth: 8, intent: "perceptual" }));
      s.keep = spec.keepMetadata ? "all" : "icc";
    } else if (spec.colorProfile === "keep" && s.sourceProfile) {
      // Back into the source's own profile, which is embedded (keep "icc").
      const img = s.image.copy();
      img.setBlob("icc-profile-data", s.sourceProfile);
      s.replace(img);
      s.replace(s.image.iccExport({ depth: 8, intent: "perceptual" }));
      s.keep = spec.keepMetadata ? "all" : "icc";
    }
    if (spec.keepCopyright && !spec.keepMetadata) keepOnlyCopyright(s);
    if (spec.stripColorProfile) {
      if (s.keep === "icc") s.keep = "none";
      else if (s.keep === "all" && s.image.getTypeof("icc-profile-data")) {
        const img = s.image.copy();
        img.remove("icc-profile-data");
        s.replace(img);
      }
    }
    if (spec.dpi) {
      s.replace(s.image.copy({ xres: spec.dpi / 25.4, yres: spec.dpi / 25.4 }));
      if (s.format === "jpeg" && s.keep !== "all") headerOnly(s, () => false);
    }
    // Kept metadata never includes a position, whatever the URL asked (stored originals may
    // keep theirs: strip=none).
    if (s.keep === "all") withoutGps(s);
  },
};

/**
 * Removes the GPS fields (libvips names the GPS IFD `ifd3`), which the savers that rebuild the
 * EXIF block from the fields then leave out, and the GPS IFD from the block itself, which the
 * WebP muxer (and any saver that copies it) writes as it is; an XMP packet with a position goes.
 */
function withoutGps(s: State): void {
  const img = s.image;
  const fields = fieldNames(img).filter((n) => n.startsWith("exif-ifd3-"));
  let exif: Uint8Array | undefined;
  if (img.getTypeof("exif-data")) {
    const copy = new Uint8Array(img.getBlob("exif-data")).slice();
    const prefixed = copy.length > 6 && String.fromCharCode(...copy.subarray(0, 6)) === "Exif\0\0";
    if (removeGps(prefixed ? copy.subarray(6) : copy)) exif = copy;
  }
  const xmp = img.getTypeof("xmp-data") && xmpHasGps(new Uint8Array(img.getBlob("xmp-data")));
  if (fields.length === 0 && !exif && !xmp) return;
  const out = img.copy();
  for (const n of fields) out.remove(n);
  if (exif) out.setBlob("exif-data", exif);
  if (xmp) out.remove("xmp-data");
  s.replace(out);
}

const COPYRIGHT_FIELDS = new Set(["exif-ifd0-Copyright", "exif-ifd0-Artist"]);

function fieldNames(img: VipsImage): string[] {
  const fields = img.getFields();
  const names: string[] = [];
  for (let i = 0; i < fields.size(); i++) names.push(fields.get(i) ?? "");
  fields.delete();
  return names;
}

/**
 * Removes every metadata field but those `kept` names (and the profile `s.keep` already keeps),
 * then lets the encoder write whatever is left ("all"): how a JPEG gets only its copyright, or
 * only a resolution (libjpeg's density is written through EXIF).
 */
function headerOnly(s: State, kept: (name: string) => boolean): void {
  const keepIcc = s.keep !== "none";
  const copy = s.image.copy();
  for (const n of fieldNames(copy)) {
    if (kept(n)) continue;
    const meta = n.startsWith("exif-") || n === "xmp-data" || n === "iptc-data" || n.startsWith("png-comment");
    if (meta || (n === "icc-profile-data" && !keepIcc)) copy.remove(n);
  }
  s.replace(copy);
  s.keep = "all";
}

/** Metadata is stripped except the EXIF copyright and artist (libvips drops EXIF tags without fields). */
function keepOnlyCopyright(s: State): void {
  if (!s.image.getTypeof("exif-data") || !fieldNames(s.image).some((n) => COPYRIGHT_FIELDS.has(n))) return;
  headerOnly(s, (n) => COPYRIGHT_FIELDS.has(n) || n === "exif-data");
  // libvips' savers rebuild the EXIF block from the fields, the WebP muxer (webp.ts) copies the
  // block as it is: rebuild it here through a 1×1 JPEG of the same header.
  if (s.format === "webp") {
    s.materialize();
    const dot = s.image.extractArea(0, 0, 1, 1);
    const jpeg = dot.writeToBuffer(".jpg", { keep: "all" });
    dot.delete();
    const back = s.vips.Image.newFromBuffer(jpeg, "");
    try {
      if (back.getTypeof("exif-data")) {
        const copy = s.image.copy();
        copy.setBlob("exif-data", back.getBlob("exif-data").slice());
        s.replace(copy);
      }
    } finally {
      back.delete();
    }
  }
}
