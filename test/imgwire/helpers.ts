import { createHash } from "node:crypto";
import { join } from "node:path";
import { expect } from "bun:test";
import { openapiValidator } from "../helpers/openapi.ts";
import { REFERENCE, type TestServer } from "../helpers/server.ts";

// Talks to the Imgwire mount the way the SDK does and checks every 200/422 against the document.

export const check = openapiValidator(join(REFERENCE, "imgwire/resource-api.openapi.json"));
export const MOUNT = "/imgwire";
export const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export function client(s: TestServer) {
  return async function call(
    method: string,
    docPath: string,
    url: string,
    init: RequestInit & { key?: string | null; json?: unknown } = {},
  ) {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (json !== undefined) headers.set("content-type", "application/json");
    const res = await s.api(MOUNT + url, {
      method,
      ...rest,
      headers,
      body: json !== undefined ? JSON.stringify(json) : rest.body,
    });
    const text = await res.text();
    const body = text ? JSON.parse(text) : null;
    if (res.status === 200 || res.status === 422) expect(check(method, docPath, res.status, body)).toBe(true);
    else expect(typeof body?.detail).toBe("string");
    return { status: res.status, body: body as any, headers: res.headers };
  };
}
