import { checkComplete, probe, SUPPORTED_INPUTS, unsupportedFormat } from "../../../codecs/probe/index.ts";
import type { ProbeResult } from "../../../codecs/types.ts";
import type { StagedBlob } from "../../store/types.ts";
import { AppError } from "../errors.ts";

/** Receive's check of the staged bytes' header: a supported format, within the pixel limit, not cut short. */
export function checkHeader(staged: StagedBlob, maxSourcePixels: number): ProbeResult {
  if (staged.size === 0) throw new AppError("INVALID_FILE", "File is empty");
  const header = probe(staged.head);
  if (!header)
    throw new AppError(
      "INVALID_FILE",
      unsupportedFormat(staged.head) ?? `File is not a supported image (${SUPPORTED_INPUTS})`,
    );
  if (header.width * header.height > maxSourcePixels) {
    throw new AppError(
      "INVALID_FILE",
      `Image is ${header.width}×${header.height}, over the limit of ${maxSourcePixels} pixels`,
    );
  }
  if (!checkComplete(staged.head, staged.tail, header.format)) {
    throw new AppError("INVALID_FILE", `File is a truncated ${header.format.toUpperCase()}: its end is missing`);
  }
  return header;
}
