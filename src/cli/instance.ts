import type { ConfigInput } from "../config.ts";
import { createImgd } from "../index.ts";
import type { AppServices } from "../services.ts";

/**
 * Runs a CLI command on the data directory through the same composition root as `serve`
 * (so a deletion removes variant files too), without a listener or start-up recovery: a
 * server may be running on the same directory. No codec workers unless asked (`import`
 * decodes what it stores, as an upload does).
 */
export async function withImgd<T>(
  input: ConfigInput,
  run: (services: AppServices) => Promise<T>,
  options: { codecs?: boolean } = {},
): Promise<T> {
  const imgd = await createImgd(input, {
    codecs: options.codecs ?? false,
    background: false,
    log: (line) => console.error(line),
  });
  try {
    return await run(imgd.services);
  } finally {
    await imgd.close();
  }
}
