import type { TestServer } from "../helpers/server.ts";

/** The one-time setup link `imgd serve` prints on its first start. */
export function setupLinkOf(s: TestServer): string {
  const m = /choose the admin's password at (\S+)/.exec(s.output());
  if (!m) throw new Error(`no setup link in the output:\n${s.output()}`);
  return m[1];
}

export interface Browserish {
  cookie: string;
  csrf: string;
}

/** The Set-Cookie value of the session cookie (name=value), or null. */
export function sessionCookie(res: Response): string | null {
  for (const line of res.headers.getSetCookie()) {
    const m = /^(imgd_session=[^;]*)/.exec(line);
    if (m) return m[1];
  }
  return null;
}

/** Sends a request as the dashboard does: cookie, same Origin, CSRF header (each overridable). */
export function asBrowser(
  s: TestServer,
  who: Browserish,
  path: string,
  init: RequestInit & { origin?: string | null; csrf?: string | null; json?: unknown } = {},
) {
  const { origin = s.url, csrf = who.csrf, json, ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set("cookie", who.cookie);
  if (origin) headers.set("origin", origin);
  if (csrf) headers.set("x-csrf-token", csrf);
  if (json !== undefined) headers.set("content-type", "application/json");
  return fetch(s.url + path, {
    ...rest,
    headers,
    body: json !== undefined ? JSON.stringify(json) : rest.body,
    redirect: "manual",
  });
}

/** Signs in with a password (or sets it through the setup link first). */
export async function signIn(
  s: TestServer,
  username: string,
  password: string,
  extra: Record<string, string> = {},
): Promise<Browserish & { res: Response }> {
  const res = await fetch(`${s.url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: s.url, ...extra },
    body: JSON.stringify({ username, password }),
  });
  const body = res.ok ? ((await res.clone().json()) as { csrf_token: string }) : null;
  return { res, cookie: sessionCookie(res) ?? "", csrf: body?.csrf_token ?? "" };
}

export async function setUp(s: TestServer, password: string): Promise<Browserish & { res: Response }> {
  const token = new URL(setupLinkOf(s)).hash.slice(1);
  const res = await fetch(`${s.url}/auth/setup`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: s.url },
    body: JSON.stringify({ token, password }),
  });
  const body = res.ok ? ((await res.clone().json()) as { csrf_token: string }) : null;
  return { res, cookie: sessionCookie(res) ?? "", csrf: body?.csrf_token ?? "" };
}
