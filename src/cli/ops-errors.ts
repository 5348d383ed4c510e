import { OpsError } from "../ops/backup.ts";

/**
 * Runs an ops command's work: a refusal it explains (an OpsError, or what `expected` names)
 * prints as "imgd <command>: <why>" and exits 1; anything else is a bug and propagates.
 */
export async function exitOnOpsError(
  command: string,
  run: () => Promise<number>,
  expected: (err: Error) => boolean = () => false,
): Promise<number> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof OpsError || (err instanceof Error && expected(err))) {
      console.error(`imgd ${command}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
