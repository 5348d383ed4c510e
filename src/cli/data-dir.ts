import { configFromEnv, resolveConfig } from "../config.ts";

/** The data directory: --data-dir, else IMGD_DATA_DIR, else ./data (as serve resolves it). */
export function dataDirOf(flag: string | boolean | undefined, env: Record<string, string | undefined>): string {
  return resolveConfig({ ...configFromEnv(env), ...(typeof flag === "string" ? { dataDir: flag } : {}) }).dataDir;
}
