import { expect } from "bun:test";
import type { TestServer } from "./server.ts";

// Open registration: an address given to POST /v1/keys or /auth/signup is its account's only
// once the confirmation link the server prints to its log is opened.

/** The confirmation links the server printed for an address, oldest first. */
export function confirmLinks(s: TestServer, email: string): string[] {
  return [...s.output().matchAll(/Email confirmation for (\S+): open (\S+)/g)]
    .filter((m) => m[1] === email)
    .map((m) => m[2]);
}

/**
 * The links once at least `count` were printed: the server's output reaches the test a moment
 * after its answer (waits at most 5 s).
 */
export async function waitForLinks(s: TestServer, email: string, count = 1): Promise<string[]> {
  let links = confirmLinks(s, email);
  for (let i = 0; i < 100 && links.length < count; i++) {
    await Bun.sleep(50);
    links = confirmLinks(s, email);
  }
  return links;
}

/** Opens the newest confirmation link for an address: the address becomes that account's. */
export async function confirmEmail(s: TestServer, email: string): Promise<void> {
  const links = await waitForLinks(s, email);
  expect(links.length).toBeGreaterThan(0);
  const res = await fetch(links[links.length - 1]);
  expect(res.status).toBe(200);
}
