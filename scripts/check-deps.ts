// The dependency rules (.dependency-cruiser.cjs) over src and codecs: `npm run check:deps`.
// dependency-cruiser runs on the Bun that runs this script, never on whichever `node` comes
// first on PATH: `bun --bun depcruise` reached it through a `node` link Bun keeps in /tmp, and
// once that link dangled (its checkout deleted) the system's older Node ran it and it refused.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const PACKAGE = join(ROOT, "node_modules/dependency-cruiser");
const { bin } = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8")) as { bin: Record<string, string> };
const args = process.argv.slice(2);
const run = Bun.spawn(
  [
    process.execPath,
    join(PACKAGE, bin.depcruise),
    "--config",
    ".dependency-cruiser.cjs",
    "--output-type",
    "err",
    ...(args.length ? args : ["src", "codecs"]),
  ],
  { cwd: ROOT, stdout: "inherit", stderr: "inherit" },
);
process.exit(await run.exited);
