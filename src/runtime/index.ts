import type { Runtime } from "./types.ts";

export type * from "./types.ts";

/** Picks the adapter of the runtime we are on; the Deno one is loaded only under Deno. */
export async function detectRuntime(): Promise<Runtime> {
  if (typeof (globalThis as any).Bun !== "undefined") return (await import("./bun.ts")).bunRuntime;
  if (typeof (globalThis as any).Deno !== "undefined") return (await import("./deno.ts")).denoRuntime;
  throw new Error("imgd runs on Bun or Deno");
}
