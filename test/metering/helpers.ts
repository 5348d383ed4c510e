import { expect } from "bun:test";
import { confirmEmail } from "../helpers/accounts.ts";
import type { TestServer } from "../helpers/server.ts";

// Tenants for metering tests: an account registered over img.pro's POST /v1/keys (the server
// runs with IMGD_REGISTRATION=open), its address confirmed, then verified and put on a plan
// by the admin API.

let n = 0;

export interface Tenant {
  key: string;
  email: string;
  username: string;
}

export async function tenant(s: TestServer, plan: string): Promise<Tenant> {
  const email = `t${++n}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const r = await s.api("/v1/keys", {
    method: "POST",
    key: null,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email }),
  });
  expect(r.status).toBe(201);
  const { key } = (await r.json()) as { key: string };
  // The address is the account's once its confirmation link is opened; the admin finds it by it.
  await confirmEmail(s, email);
  const p = await s.api(`/api/v1/admin/users/${encodeURIComponent(email)}`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ plan, verified: true }),
  });
  expect(p.status).toBe(200);
  const user = (await p.json()) as { plan: string; username: string };
  expect(user.plan).toBe(plan);
  return { key, email, username: user.username };
}

/** Asserts a native error envelope; returns the body. */
export async function nativeError(res: Response, status: number, code: string) {
  const body = (await res.json()) as { error: { code: string; status: number; message: string; path: string } };
  expect({ status: res.status, code: body.error.code, envStatus: body.error.status }).toEqual({
    status,
    code,
    envStatus: status,
  });
  expect(typeof body.error.path).toBe("string");
  return body.error;
}

/** The plans the metering tests use (IMGD_PLANS). */
export const PLANS = JSON.stringify({
  up10: { uploads_per_month: 10, requests_per_minute: null, api_requests_per_month: null },
  tiny: { storage_bytes: 3000, requests_per_minute: null, api_requests_per_month: null },
  calls5: { api_requests_per_month: 5, requests_per_minute: null },
  rpm3: { requests_per_minute: 3, api_requests_per_month: null },
  tf1: { transformations_per_month: 1, requests_per_minute: null, api_requests_per_month: null },
  views2: { views_per_month: 2, requests_per_minute: null, api_requests_per_month: null },
  noviews: { views_per_month: 0, requests_per_minute: null },
  small: { max_upload_bytes: 2000, requests_per_minute: null, api_requests_per_month: null },
});
