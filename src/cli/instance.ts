import type { ConfigInput } from "../config.ts";
import { createImgd } from "../index.ts";
import type { AppServices } from "../services.ts";

/**
 * Runs a CLI command on the data directory through the same composition root as `serve`
 * (so a deletion removes variant files too), without a listener, workers or start-up
 * recovery: a server may be running on the same directory.
 */
export async function withImgd<T>(input: ConfigInput, run: (services: AppServices) => Promise<T>): Promise<T> {
  const imgd = await createImgd(input, { codecs: false, background: false, log: (line) => console.error(line) });
  try {
    return await run(imgd.services);
  } finally {
    await imgd.close();
  }
}
