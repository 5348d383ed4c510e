import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type TestServer, startServer } from "../helpers/server.ts";
import { client, MOUNT } from "./helpers.ts";

// A preflight carries no key, so imgd cannot know which environment it is for: it grants the
// client routes to an origin as long as some environment would let that origin in (one with no
// CORS origins listed lets in any). Once every environment lists its origins, an origin that
// none of them lists gets no grant, and the browser never sends the real request.

let s: TestServer;
let call: ReturnType<typeof client>;
beforeAll(async () => {
  s = await startServer();
  call = client(s);
});
afterAll(() => s.stop());

const CLIENT_ROUTES: [string, string][] = [
  ["POST", "/api/v1/images/standard_upload"],
  ["GET", `/api/v1/images/${crypto.randomUUID()}`],
];

async function preflight(path: string, origin: string, method: string) {
  const res = await fetch(`${s.url}${MOUNT}${path}`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": method,
      "access-control-request-headers": "authorization, content-type",
    },
  });
  expect(res.status).toBe(204);
  expect(res.headers.get("vary")).toContain("Origin");
  return res.headers;
}

const granted = async (origin: string) => {
  const out: (string | null)[] = [];
  for (const [method, path] of CLIENT_ROUTES)
    out.push((await preflight(path, origin, method)).get("access-control-allow-origin"));
  return out;
};

describe("Imgwire CORS preflights", () => {
  test("while one environment lists no origins, any origin is granted the client routes (and only those)", async () => {
    expect(await granted("https://anyone.test")).toEqual(["https://anyone.test", "https://anyone.test"]);
    const h = await preflight("/api/v1/images/standard_upload", "https://anyone.test", "POST");
    expect(h.get("access-control-allow-methods")).toBe("GET, POST");
    expect(h.get("access-control-allow-headers")).toContain("Authorization");
    // Server routes never: not even then.
    expect(
      (await preflight("/api/v1/api_keys/", "https://anyone.test", "GET")).get("access-control-allow-origin"),
    ).toBeNull();
  });

  test("when every environment lists its origins, an origin none lists gets no grant; listed ones do", async () => {
    // Two environments: the admin's own and a second one, each with its own list.
    const second = await call("POST", "/api/v1/environments/", "/api/v1/environments/", { json: { name: "second" } });
    expect(second.status).toBe(200);
    const envs = await call("GET", "/api/v1/environments/", "/api/v1/environments/?limit=100");
    expect(envs.status).toBe(200);
    const ids = (envs.body as { id: string }[]).map((e) => e.id);
    expect(ids).toContain(second.body.id);
    const patterns = ["https://app.one.test", "https://*.two.test"];
    for (const [i, id] of ids.entries()) {
      const r = await call("POST", "/api/v1/cors_origins/", "/api/v1/cors_origins/", {
        json: { pattern: patterns[i % 2] },
        headers: { "x-environment-id": id },
      });
      expect(r.status).toBe(200);
      expect(r.body.environment_id).toBe(id);
    }
    expect(await granted("https://evil.test")).toEqual([null, null]);
    expect(await granted("https://app.one.test.evil.test")).toEqual([null, null]);
    expect(await granted("https://app.one.test")).toEqual(["https://app.one.test", "https://app.one.test"]);
    expect(await granted("https://cdn.two.test")).toEqual(["https://cdn.two.test", "https://cdn.two.test"]);
    // A refused preflight grants nothing else either.
    const h = await preflight("/api/v1/images/standard_upload", "https://evil.test", "POST");
    for (const name of ["access-control-allow-methods", "access-control-allow-headers", "access-control-max-age"])
      expect(h.get(name)).toBeNull();
  });

  test("an environment that lists nothing again opens preflights to any origin again", async () => {
    const origins = await call("GET", "/api/v1/cors_origins/", "/api/v1/cors_origins/");
    for (const o of origins.body as { id: string }[]) {
      expect(
        (await call("DELETE", "/api/v1/cors_origins/{cors_origin_id}", `/api/v1/cors_origins/${o.id}`)).status,
      ).toBe(200);
    }
    expect(await granted("https://evil.test")).toEqual(["https://evil.test", "https://evil.test"]);
  });
});
