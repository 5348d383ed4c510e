import { type CostEfforts, transformCost } from "../../../codecs/cost.ts";
import type { TransformSpec } from "../../../codecs/types.ts";
import { AppError } from "../errors.ts";
import { outputSize, type Source } from "./spec.ts";

/**
 * Refuses (400) a transform whose cost (codecs/cost.ts) is over `maxCost`, before it reaches a
 * worker: one URL must not hold a worker for long whoever asks. Animations are counted per
 * frame by the worker itself, which knows how many there are.
 */
export function checkTransformCost(spec: TransformSpec, src: Source, maxCost: number, effort: CostEfforts): void {
  const out = outputSize(spec, src);
  const read = spec.crop ? spec.crop.width * spec.crop.height : src.width * src.height;
  const cost = transformCost(spec, read, out.width * out.height, 1, effort);
  if (cost <= maxCost) return;
  throw new AppError(
    "VALIDATION_ERROR",
    `This transform costs ${Math.ceil(cost)} units, over the limit of ${maxCost} (IMGD_MAX_TRANSFORM_COST; ` +
      `a unit is about one megapixel resized): ask for a smaller size, a smaller blur or sharpen radius, or a cheaper format`,
  );
}
