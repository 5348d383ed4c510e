import { Hono } from "hono";
import { AppError } from "../domain/errors.ts";
import { extensionOf } from "../domain/paths.ts";
import type { AppEnv } from "./env.ts";

const IMMUTABLE = "public, max-age=31536000, immutable";

/** `GET /i/{username}/{path}`: the stored bytes, or (transform engine) a variant of them. */
export const deliveryRoutes = new Hono<AppEnv>().on(["GET", "HEAD"], "/:username/*", async (c) => {
  const { users, images, blobs, runtime } = c.var.services;
  const user = await users.byUsername(c.req.param("username"));
  const rawPath = new URL(c.req.url).pathname.split("/").slice(3).join("/");
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw new AppError("NOT_FOUND", "Image not found");
  }
  const found = user && (await images.resolvePath(user.id, path));
  if (!found) throw new AppError("NOT_FOUND", "Image not found");
  const { image } = found;
  if (image.visibility === "private") {
    throw new AppError("FORBIDDEN", "This image is private: request a signed URL (POST /api/v1/images/{id}/signed-url)");
  }
  const etag = `"${image.blob_hash}"`;
  c.header("ETag", etag);
  c.header("Cache-Control", IMMUTABLE);
  if (matchesEtag(c.req.header("if-none-match"), etag)) return c.body(null, 304);
  void extensionOf;
  c.header("Content-Type", image.mime_type);
  c.header("Content-Length", String(image.size));
  return c.body(c.req.method === "HEAD" ? null : (runtime.fileBody(blobs.path(image.blob_hash)) as any));
});

export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const tag = t.trim().replace(/^W\//, "");
    return tag === etag || tag === "*";
  });
}
