// How a binary built for another target runs on a Linux x64 machine: linux-arm64 under qemu-user
// (Debian: qemu-user-static, and libc6:arm64 after `dpkg --add-architecture arm64`), windows-x64
// under Wine (Debian: wine64). `.ci/run` installs them; test/targets.test.ts and
// scripts/bench-startup.ts use them. A runner that is not installed says what is missing.
//
// Debian 12's Wine 8.0 lacks two things Bun 1.3's Windows runtime calls, both present on
// Windows 10 and in newer Wine; where they are missing the runner supplies them, and only then:
// - bcryptprimitives.dll's ProcessPrng (every random byte: UUIDs, keys); without it the process
//   dies with c0000409 at the first one. The Wine prefix gets a DLL that forwards ProcessPrng to
//   advapi32's SystemFunction036 (RtlGenRandom), which Wine 8.0 has.
// - kernel32's DiscardVirtualMemory (Wine 8.4 added it), which the JavaScript heap's scavenger
//   calls to hand memory back; Wine's stub for it aborts the process within seconds. The copy
//   of the binary that runs imports VirtualUnlock in its place: same arguments, harmless on
//   unlocked pages, and a result the allocator treats as done or falls back from (MEM_RESET).

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { forwardingDll, renamePeImports } from "./pe.ts";

export type ForeignTarget = "bun-linux-arm64" | "bun-windows-x64";

export interface Runner {
  target: ForeignTarget;
  /** What runs the binary ("qemu-user", "Wine") and its version, for messages. */
  name: string;
  version: string;
  /** null when the runner is installed; else what is missing and how to install it. */
  missing: string | null;
  /** The executable's file name in its folder. */
  exe: string;
  /** What stops the server cleanly: Wine turns SIGINT into Ctrl+C; its SIGTERM kills outright. */
  stopSignal: "SIGINT" | "SIGTERM";
  /** Copies `binary` into `dir` as `exe` (with what this runner needs applied); returns its path. */
  install(binary: string, dir: string): Promise<string>;
  /** The command line that runs `bin` with `args`. */
  command(bin: string, args: string[]): string[];
  /** Environment to add to every run. */
  env(): Record<string, string>;
  /** An absolute Linux path as the binary spells it (Wine: `Z:\…`). */
  hostPath(path: string): string;
  /** What was done to make it run here (empty when nothing). */
  adjustments: string[];
  /** Releases what install() made outside `dir` (Wine: stops its server, removes the prefix). */
  close(): Promise<void>;
}

function which(names: string[]): string | null {
  const dirs = (process.env.PATH ?? "/usr/bin:/bin").split(":").filter(Boolean);
  for (const n of names) {
    const found = n.startsWith("/")
      ? existsSync(n)
        ? n
        : null
      : (dirs.map((d) => join(d, n)).find((p) => existsSync(p)) ?? null);
    if (found) return found;
  }
  return null;
}

function versionOf(bin: string, args: string[], env: Record<string, string> = {}): string {
  try {
    return execFileSync(bin, args, {
      encoding: "utf8",
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 30_000,
    })
      .split("\n")[0]
      .trim();
  } catch {
    return "unknown version";
  }
}

/** linux-arm64 through qemu-user, with the arm64 C library from Debian's multiarch (`-L /`). */
export function qemuArm64(): Runner {
  const qemu = which(["qemu-aarch64-static", "qemu-aarch64"]);
  const missing = !qemu
    ? "qemu-aarch64-static is not installed (apt-get install qemu-user-static)"
    : !existsSync("/lib/ld-linux-aarch64.so.1")
      ? "the arm64 C library is missing (dpkg --add-architecture arm64 && apt-get update && apt-get install libc6:arm64)"
      : null;
  return {
    target: "bun-linux-arm64",
    name: "qemu-user",
    version: qemu ? versionOf(qemu, ["--version"]) : "",
    missing,
    exe: "imgd",
    stopSignal: "SIGTERM",
    async install(binary, dir) {
      const bin = join(dir, "imgd");
      await copyFile(binary, bin);
      return bin;
    },
    command: (bin, args) => [qemu ?? "qemu-aarch64-static", "-L", "/", bin, ...args],
    env: () => ({}),
    hostPath: (path) => path,
    adjustments: [],
    async close() {},
  };
}

/** Wine's folder of Windows-side DLLs (x86_64-windows), found from its loader's location. */
function wineDllDir(wine: string): string | null {
  const dir = dirname(realpathSync(wine));
  const candidates = [
    join(dir, "../x86_64-linux-gnu/wine/x86_64-windows"), // Debian: /usr/lib/wine/wine64
    join(dir, "../lib/x86_64-linux-gnu/wine/x86_64-windows"),
    join(dir, "../lib/wine/x86_64-windows"), // upstream builds: <prefix>/bin/wine
    join(dir, "../lib64/wine/x86_64-windows"),
    join(dir, "x86_64-windows"),
  ];
  return candidates.find((d) => existsSync(join(d, "kernel32.dll"))) ?? null;
}

/** windows-x64 through Wine, in a Wine prefix of its own (a temp folder, ~700 MB, removed by close()). */
export function wine(): Runner {
  // Debian keeps wine64 outside PATH; its `wine` package adds the PATH wrapper.
  const bin = which(["wine64", "/usr/lib/wine/wine64", "wine"]);
  const server = bin
    ? which([join(dirname(bin), "wineserver64"), join(dirname(bin), "wineserver"), "wineserver"])
    : null;
  const dlls = bin ? wineDllDir(bin) : null;
  // Unknown layout: assume the old Wine and apply both; each is harmless on a newer one.
  const needsPrng = !dlls || !existsSync(join(dlls, "bcryptprimitives.dll"));
  const needsDiscard = !dlls || !readFileSync(join(dlls, "kernel32.dll")).includes("DiscardVirtualMemory");
  let prefix = "";
  const adjustments: string[] = [];
  const runner: Runner = {
    target: "bun-windows-x64",
    name: "Wine",
    version: bin ? versionOf(bin, ["--version"]) : "",
    missing: bin ? null : "wine64 is not installed (apt-get install wine64)",
    exe: "imgd.exe",
    stopSignal: "SIGINT",
    async install(binary, dir) {
      prefix = await mkdtemp(join(tmpdir(), "imgd-wine-"));
      if (needsPrng) {
        const system32 = join(prefix, "drive_c/windows/system32");
        await mkdir(system32, { recursive: true });
        await writeFile(
          join(system32, "bcryptprimitives.dll"),
          forwardingDll("bcryptprimitives.dll", "ProcessPrng", "advapi32.SystemFunction036"),
        );
        adjustments.push("bcryptprimitives.dll with ProcessPrng → advapi32.SystemFunction036 in the Wine prefix");
      }
      const exe = new Uint8Array(await readFile(binary));
      if (needsDiscard && renamePeImports(exe, "KERNEL32.dll", { DiscardVirtualMemory: "VirtualUnlock" }) > 0) {
        adjustments.push("import KERNEL32!DiscardVirtualMemory renamed to VirtualUnlock in the copy that runs");
      }
      const out = join(dir, "imgd.exe");
      await writeFile(out, exe, { mode: 0o755 });
      return out;
    },
    command: (exe, args) => [bin ?? "wine64", exe, ...args],
    env: () => ({
      WINEPREFIX: prefix,
      WINEDEBUG: "-all",
      // No Mono or Gecko: their installers would offer to download them.
      WINEDLLOVERRIDES: "mscoree,mshtml=",
    }),
    // Wine's default prefix maps drive Z: to the Linux root.
    hostPath: (path) => `Z:${path.replaceAll("/", "\\")}`,
    adjustments,
    async close() {
      if (!prefix) return;
      // The prefix's wineserver outlives the last process by a few seconds; stop it now.
      if (server) {
        try {
          execFileSync(server, ["-k"], {
            env: { ...process.env, WINEPREFIX: prefix },
            stdio: "ignore",
            timeout: 30_000,
          });
        } catch {}
      }
      await rm(prefix, { recursive: true, force: true });
      prefix = "";
    },
  };
  return runner;
}

/** The foreign targets this machine can run, in the order the tests run them. */
export const foreignRunners = (): Runner[] => [qemuArm64(), wine()];
