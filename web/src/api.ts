// The dashboard's only way to the server: the public API, with the session cookie and the
// session's CSRF token (the server refuses state-changing cookie requests without it).

export const BASE = document.documentElement.dataset.base ?? "";
let csrf = "";
export function setCsrf(token: string) {
  csrf = token;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

/** The error message of any dialect's error shape. */
function errorOf(status: number, body: any, headers: Headers): ApiError {
  const retry = Number(headers.get("retry-after")) || null;
  const e = body?.error;
  if (e && typeof e === "object") return new ApiError(e.message ?? `HTTP ${status}`, status, e.code ?? String(status), retry);
  if (typeof e === "string") return new ApiError(body.message ?? e, status, e, retry);
  if (body?.detail) return new ApiError(typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail), status, String(status), retry);
  return new ApiError(`The server answered ${status}`, status, String(status), retry);
}

export interface Answer<T> {
  data: T;
  headers: Headers;
}

export async function call<T = any>(path: string, init: { method?: string; json?: unknown; headers?: Record<string, string> } = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: "application/json", ...init.headers };
  const method = init.method ?? (init.json === undefined ? "GET" : "POST");
  if (init.json !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrf) headers["x-csrf-token"] = csrf;
  let res: Response;
  try {
    res = await fetch(BASE + path, { method, headers, credentials: "same-origin", body: init.json === undefined ? undefined : JSON.stringify(init.json) });
  } catch {
    throw new ApiError("The server cannot be reached: check your connection and try again", 0, "NETWORK");
  }
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = errorOf(res.status, body, res.headers);
    if (res.status === 401 && !path.startsWith("/auth/")) onSignedOut?.();
    throw err;
  }
  return { data: body as T, headers: res.headers };
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

/** A multipart upload with progress (fetch has no upload progress; XMLHttpRequest does). */
export function uploadFile(path: string, form: FormData, onProgress: (fraction: number) => void): { done: Promise<any>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const done = new Promise<any>((resolve, reject) => {
    xhr.open("POST", BASE + path);
    xhr.withCredentials = true;
    xhr.setRequestHeader("accept", "application/json");
    if (csrf) xhr.setRequestHeader("x-csrf-token", csrf);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let body: any = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {}
      const headers = new Headers();
      const retry = xhr.getResponseHeader("retry-after");
      if (retry) headers.set("retry-after", retry);
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(errorOf(xhr.status, body, headers));
    };
    xhr.onerror = () => reject(new ApiError("The connection broke during the upload", 0, "NETWORK"));
    xhr.onabort = () => reject(new ApiError("Upload cancelled", 0, "ABORTED"));
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}

/** Absolute URL of a path on this server (for copyable URLs). */
export const absolute = (path: string) => new URL(BASE + path, location.origin).href;
