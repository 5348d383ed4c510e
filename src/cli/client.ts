import type { FlagSpec } from "./args.ts";
import { UsageError } from "./args.ts";

// What the client commands (upload, ls, rm, usage) share: where the server is, which key,
// and turning an error response into one line that says what to do.

export const clientFlags: Record<string, FlagSpec> = {
  server: { arg: "url", help: "The imgd server [IMGD_SERVER, default http://localhost:8080]" },
  key: { arg: "key", help: "API key [IMGD_API_KEY]" },
};

export interface Client {
  server: string;
  request: (path: string, init?: RequestInit) => Promise<Response>;
  json: <T = any>(path: string, init?: RequestInit) => Promise<T>;
}

export function client(flags: Record<string, string | boolean>, env: Record<string, string | undefined>): Client {
  const server = String(flags.server ?? env.IMGD_SERVER ?? "http://localhost:8080").replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+/.test(server)) throw new UsageError(`--server takes an http(s) URL, got '${server}'`);
  const key = String(flags.key ?? env.IMGD_API_KEY ?? "");
  if (!key) throw new UsageError("no API key: set IMGD_API_KEY or pass --key (create one with 'imgd keys create')");
  const request = async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${key}`);
    try {
      return await fetch(server + path, { ...init, headers });
    } catch (err) {
      throw new Error(`cannot reach ${server} (${(err as Error).message}); is 'imgd serve' running there?`);
    }
  };
  return {
    server,
    request,
    async json(path, init) {
      const res = await request(path, init);
      const body = await res.json().catch(() => null);
      if (!res.ok) throw new Error(describeError(res.status, body));
      return body;
    },
  };
}

export function describeError(status: number, body: any): string {
  const message = body?.error?.message ?? body?.detail ?? `HTTP ${status}`;
  const hint =
    status === 401 ? " (check the API key)" : status === 403 ? " (the key lacks a scope, or the plan a quota)" : "";
  return `${message}${hint}`;
}

export const formatBytes = (n: number) =>
  n < 1024
    ? `${n} B`
    : n < 1024 ** 2
      ? `${(n / 1024).toFixed(1)} KiB`
      : n < 1024 ** 3
        ? `${(n / 1024 ** 2).toFixed(1)} MiB`
        : `${(n / 1024 ** 3).toFixed(2)} GiB`;

/** One image for POST /api/v1/images: its bytes, or a URL the server fetches. */
export interface ImagePost {
  bytes?: Uint8Array;
  filename?: string;
  url?: string;
  /** Where it lands: a folder, or a full path with the file's extension. */
  target: string;
  visibility?: "public" | "private";
  tags?: string[];
  metadata?: Record<string, unknown>;
}

/** Sends one image to the native upload route; the answer's status and JSON (null when none). */
export async function postImage(api: Client, p: ImagePost): Promise<{ status: number; body: any }> {
  const fd = new FormData();
  if (p.bytes) fd.append("file", new Blob([p.bytes as BlobPart]), p.filename ?? "image");
  if (p.url) fd.append("url", p.url);
  if (p.target) fd.append("target_path", p.target);
  if (p.visibility) fd.append("visibility", p.visibility);
  if (p.tags?.length) fd.append("tags", p.tags.join(","));
  if (p.metadata && Object.keys(p.metadata).length) fd.append("metadata", JSON.stringify(p.metadata));
  const res = await api.request("/api/v1/images", { method: "POST", body: fd });
  return { status: res.status, body: await res.json().catch(() => null) };
}
