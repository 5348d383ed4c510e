// Small pieces several steps use: colour conversion to 8-bit sRGB, backgrounds, placement.

import type { Gravity, Rgba } from "../types.ts";
import type { Vips, VipsImage } from "../wasm.ts";

/** 16-bit (and other wide) pixels to 8-bit, keeping alpha meaningful. */
export function to8bit(image: VipsImage): VipsImage {
  if (image.format === "uchar") return image;
  if (image.format === "ushort") {
    const scaled = image.linear(1 / 257, 0);
    const cast = scaled.cast("uchar");
    scaled.delete();
    const interpretation =
      image.interpretation === "grey16" ? "b-w" : image.interpretation === "rgb16" ? "srgb" : image.interpretation;
    const out = cast.copy({ interpretation });
    cast.delete();
    return out;
  }
  // Float and other formats: libvips knows how to get from their interpretation to sRGB.
  return image.colourspace("srgb");
}

export function toSrgb(image: VipsImage, vips: Vips): { image: VipsImage; hadProfile: boolean } {
  let img = image;
  const step = (next: VipsImage) => {
    if (img !== image && img !== next) img.delete();
    img = next;
  };
  step(to8bit(img));
  let hadProfile = false;
  if (img.getTypeof("icc-profile-data")) {
    try {
      step(img.iccTransform("srgb", { embedded: true, depth: 8, intent: "perceptual" }));
      hadProfile = true;
    } catch {
      // A broken profile: ignore it and convert by interpretation alone.
      const copy = img.copy();
      copy.remove("icc-profile-data");
      step(copy);
    }
  } else if (img.interpretation === "cmyk") {
    // Untagged CMYK: libvips' built-in CMYK profile beats a naive formula.
    step(img.iccTransform("srgb", { input_profile: "cmyk", depth: 8, intent: "perceptual" }));
    hadProfile = true;
  }
  if (img.interpretation !== "srgb") step(img.colourspace("srgb"));
  if (img.format !== "uchar") step(img.cast("uchar"));
  void vips;
  return { image: img, hadProfile };
}

/** The background where a spec names none. */
export const WHITE: Rgba = [255, 255, 255, 255];

/** Background as the bands of `image` want it (3 values, or 4 with alpha). */
export function backgroundFor(image: VipsImage, rgba: [number, number, number, number]): number[] {
  return image.hasAlpha() ? [...rgba] : rgba.slice(0, 3);
}

export const COMPASS: Record<string, string> = {
  centre: "centre",
  north: "north",
  south: "south",
  east: "east",
  west: "west",
  northeast: "north-east",
  northwest: "north-west",
  southeast: "south-east",
  southwest: "south-west",
};

/** Top-left corner of a w×h window inside W×H for a compass gravity. */
export function anchor(g: Gravity, W: number, H: number, w: number, h: number): { left: number; top: number } {
  const left = g.includes("west") ? 0 : g.includes("east") ? W - w : Math.floor((W - w) / 2);
  const top = g.startsWith("north") ? 0 : g.startsWith("south") ? H - h : Math.floor((H - h) / 2);
  return { left, top };
}
