import { expect } from "bun:test";
import sharp from "sharp";
import { ROOT, type TestServer, form } from "../helpers/server.ts";

// Two ordinary tenants on one server, as an outside attacker meets them: the admin (`admin`)
// and a second tenant made by the admin API with a key from the CLI.

/** A solid-colour PNG: its pixels say unmistakably whose image an answer shows. */
export async function solid(width: number, height: number, rgb: [number, number, number]): Promise<Uint8Array> {
  return new Uint8Array(
    await sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
      .png()
      .toBuffer(),
  );
}

/** Another tenant (unlimited plan) and a read/write key of it. */
export async function secondTenant(s: TestServer, username: string): Promise<string> {
  const made = await s.api("/api/v1/admin/users", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, plan: "unlimited" }),
  });
  expect(made.status).toBe(201);
  const k = Bun.spawnSync(
    [process.execPath, `${ROOT}/src/main.ts`, "keys", "create", "--user", username, "--data-dir", s.dataDir],
    { env: { ...process.env, ...s.env } },
  );
  expect(k.exitCode).toBe(0);
  return k.stdout.toString().trim();
}

/** Uploads through the native API; returns the image's id. */
export async function upload(
  s: TestServer,
  key: string | undefined,
  bytes: Uint8Array,
  path: string,
  visibility: "public" | "private",
): Promise<string> {
  const res = await s.api("/api/v1/images", {
    method: "POST",
    ...(key ? { key } : {}),
    body: form({ file: { bytes, filename: path.split("/").pop()! }, target_path: path, visibility }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** A signed URL made by the owner's key (path relative to the server). */
export async function signed(
  s: TestServer,
  key: string | undefined,
  id: string,
  body: Record<string, unknown>,
): Promise<string> {
  const res = await s.api(`/api/v1/images/${id}/signed-url`, {
    method: "POST",
    ...(key ? { key } : {}),
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  const url = new URL(((await res.json()) as { signed_url: string }).signed_url);
  return url.pathname + url.search;
}

/** Raw RGB pixels of an answer, and a count of the pixels close to a colour. */
export async function pixelsOf(bytes: Uint8Array) {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const near = (rgb: [number, number, number], tolerance = 40) => {
    let n = 0;
    for (let i = 0; i < data.length; i += 3)
      if (
        Math.abs(data[i]! - rgb[0]) <= tolerance &&
        Math.abs(data[i + 1]! - rgb[1]) <= tolerance &&
        Math.abs(data[i + 2]! - rgb[2]) <= tolerance
      )
        n++;
    return n / (info.width * info.height);
  };
  return { width: info.width, height: info.height, near };
}
