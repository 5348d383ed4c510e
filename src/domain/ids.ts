import { getRandomValues } from "node:crypto";

/** UUID version 7: random but ordered by creation time, so ids sort like their rows. */
export function newId(now = Date.now()): string {
  const b = new Uint8Array(16);
  getRandomValues(b);
  let t = now;
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Uniform random alphanumerics (rejection sampling avoids modulo bias). */
export function randomAlnum(length: number): string {
  let out = "";
  const buf = new Uint8Array(length * 2);
  while (out.length < length) {
    getRandomValues(buf);
    for (const x of buf) {
      if (x < 248 && out.length < length) out += ALNUM[x % 62];
    }
  }
  return out;
}
