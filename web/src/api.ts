// The dashboard's only way to the server: imgd's typed client (imgd/client) on the public API,
// with the session cookie and the session's CSRF token (the server refuses state-changing
// cookie requests without it).
import { createImgdClient, ImgdError, type Progress, type UploadOptions } from "../../src/client/index.ts";

export const BASE = document.documentElement.dataset.base ?? "";
let csrf = "";
export function setCsrf(token: string) {
  csrf = token;
}
/** The session's CSRF token, for requests made outside the API client (tus uploads). */
export const csrfToken = () => csrf || undefined;

/** The client every page uses: typed routes, and `request` for paths built at run time. */
export const imgd = createImgdClient({
  baseUrl: location.origin + BASE,
  credentials: "same-origin",
  csrfToken,
});

export const ApiError = ImgdError;
export type ApiError = ImgdError;

export interface Answer<T> {
  data: T;
  headers: Headers;
}

export async function call<T = any>(path: string, init: { method?: string; json?: unknown; headers?: Record<string, string> } = {}): Promise<Answer<T>> {
  const method = init.method ?? (init.json === undefined ? "GET" : "POST");
  try {
    const { data, headers } = await imgd.request<T>(method, path, { json: init.json, headers: init.headers });
    return { data, headers };
  } catch (err) {
    if (!(err instanceof ImgdError)) throw new ImgdError("The server cannot be reached: check your connection and try again", 0, "NETWORK", null);
    if (err.status === 401 && !path.startsWith("/auth/")) onSignedOut?.();
    throw err;
  }
}

export const get = async <T = any>(path: string) => (await call<T>(path)).data;
export const post = async <T = any>(path: string, json: unknown = {}) => (await call<T>(path, { json })).data;
export const put = async <T = any>(path: string, json: unknown) => (await call<T>(path, { method: "PUT", json })).data;
export const patch = async <T = any>(path: string, json: unknown) => (await call<T>(path, { method: "PATCH", json })).data;
export const del = async <T = any>(path: string, json?: unknown) => (await call<T>(path, { method: "DELETE", json })).data;

let onSignedOut: (() => void) | null = null;
export function whenSignedOut(fn: () => void) {
  onSignedOut = fn;
}

/** An upload with progress (the client uses XMLHttpRequest in browsers: fetch reports none). */
export function uploadImage(file: File, fields: Omit<UploadOptions, "onProgress" | "signal">, onProgress: (fraction: number) => void) {
  return imgd.upload(file, { ...fields, filename: file.name, onProgress: (p: Progress) => onProgress(p.loaded / p.total) });
}

/** Absolute URL of a path on this server (for copyable URLs). */
export const absolute = (path: string) => new URL(BASE + path, location.origin).href;
