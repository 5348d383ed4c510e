import type { Context } from "hono";

/**
 * Imgwire's pagination headers (its SDK pages only through them); the native list sends them
 * too. Pages count from 1; a missing neighbour is the string "null".
 */
export function setPageHeaders(c: Context, total: number, page: number, limit: number) {
  const last = Math.max(1, Math.ceil(total / limit));
  c.header("X-Total-Count", String(total));
  c.header("X-Page", String(page));
  c.header("X-Limit", String(limit));
  c.header("X-Prev-Page", page > 1 ? String(Math.min(page - 1, last)) : "null");
  c.header("X-Next-Page", page < last ? String(page + 1) : "null");
}
