// Shared by the codec tests: fixtures, a spec builder, and sharp as an independent decoder.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { expect } from "bun:test";
import { CodecError, type TransformSpec } from "../../codecs/types.ts";

export const FIXTURES = join(import.meta.dir, "../fixtures");

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, name)));
}

export function spec(over: Partial<TransformSpec> = {}): TransformSpec {
  return { fit: "cover", enlarge: false, gravity: "centre", format: "png", quality: 80, keepMetadata: false, ...over };
}

export interface Decoded {
  format: string | undefined;
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
  /** RGBA-or-RGB pixel at (x, y). */
  px(x: number, y: number): number[];
}

/** Decodes with sharp, without any colour conversion of our own. */
export async function decode(bytes: Uint8Array): Promise<Decoded> {
  const meta = await sharp(bytes).metadata();
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const channels = info.channels;
  return {
    format: meta.format,
    width: info.width,
    height: info.height,
    channels,
    data: new Uint8Array(data),
    px: (x, y) => [...data.subarray((y * info.width + x) * channels, (y * info.width + x + 1) * channels)],
  };
}

/** Mean absolute difference per sample between two same-sized decodes. */
export function meanDiff(a: Decoded, b: Decoded): number {
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels) return Infinity;
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}

/** A PNG from a pixel function (RGBA), for synthetic test images. */
export async function makePng(
  width: number,
  height: number,
  f: (x: number, y: number) => [number, number, number, number],
): Promise<Uint8Array> {
  const raw = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw.set(f(x, y), (y * width + x) * 4);
  return new Uint8Array(
    await sharp(raw, { raw: { width, height, channels: 4 } })
      .png()
      .toBuffer(),
  );
}

/** The CodecError code a promise rejects with, or "ok". */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    expect(e).toBeInstanceOf(CodecError);
    return (e as CodecError).code;
  }
}
