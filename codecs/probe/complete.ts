// A cheap structural check that an upload is not cut off, from its last bytes.

import type { InputFormat } from "../types.ts";
import { gifComplete } from "./gif.ts";
import { jpegComplete } from "./jpeg.ts";
import { pngComplete } from "./png.ts";

/**
 * A cheap structural check that the file is not cut off, from its first and last bytes.
 * Formats without a cheap check pass.
 */
export function checkComplete(head: Uint8Array, tail: Uint8Array, format: InputFormat): boolean {
  void head;
  if (format === "jpeg") return jpegComplete(tail);
  if (format === "png") return pngComplete(tail);
  if (format === "gif") return gifComplete(tail);
  return true;
}
