import { type Context, Hono } from "hono";
import * as v from "valibot";
import { AppError, invalid } from "../../domain/errors.ts";
import { stemOf, validatePath } from "../../domain/library/paths.ts";
import { parseParams, placeholderDelivery, splitQuery } from "../../domain/delivery/native.ts";
import {
  checkCustomSize,
  FieldErrors,
  MAX_TAG_LENGTH,
  NAMESPACE,
  parseCustom,
  parseTags,
} from "../../domain/library/fields.ts";
import { Fetcher } from "../../domain/fetcher/fetcher.ts";
import type { Upload } from "../../domain/ingest/ingest.ts";
import type { RouteEnv } from "../env.ts";
import { receiveUpload, requireFile } from "../receive-upload.ts";
import { jsonBody, parse, queryInt } from "../validate.ts";
import { setPageHeaders } from "../paging.ts";
import { baseUrl } from "../urls.ts";
import { SIGNATURE_KEYS, sign } from "../../domain/delivery/signing.ts";
import { isImgixQuery, parseImgixQuery } from "../../domain/delivery/imgix.ts";
import { splitImgwireQuery } from "../../domain/delivery/imgwire.ts";
import { cdnUrl, encodePath, listItem, metadataResponse, rfc3339, uploadResponse } from "./shape.ts";
import { MOUNTS, rawPathUnder } from "../mounts.ts";
import { STRIP_MODES } from "../../../codecs/metadata/strip.ts";

/** The services these routes use. */
type Env = RouteEnv<"config" | "fetcher" | "images" | "ingest" | "metering" | "tokens" | "ownHosts" | "purge">;

const visibility = v.picklist(["public", "private"], "must be 'public' or 'private'");

export const UploadFields = v.object({
  target_path: v.optional(v.string()),
  path: v.optional(v.string()),
  visibility: v.optional(visibility),
  /** Instead of a file: a URL the server fetches (the SSRF-safe fetcher: public addresses only, size and time limits). */
  url: v.optional(v.string()),
  /** Comma-separated. */
  tags: v.optional(v.string()),
  /** A JSON object of custom fields. */
  metadata: v.optional(v.string()),
  strip: v.optional(v.picklist(STRIP_MODES, "must be none, gps or all")),
});

export const ListQuery = v.object({
  limit: queryInt(1, 100, 50),
  offset: queryInt(0, 1_000_000_000, 0),
  /** Imgwire-style paging, counted from 1; the alternative to `offset`. */
  page: queryInt(1, 1_000_000_000, 1),
  sort: v.optional(v.picklist(["newest", "oldest", "name", "size"], "must be newest, oldest, name or size"), "newest"),
  path: v.optional(
    v.pipe(
      v.string(),
      v.transform((p) => (p === "" || p === "/" ? undefined : validatePath(p, "path"))),
    ),
  ),
  namespace: v.optional(v.pipe(v.string(), v.regex(NAMESPACE, "must be 2–64 lowercase letters, digits and hyphens"))),
  tag: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.toLowerCase(),
      v.minLength(1, "must not be empty"),
      v.maxLength(MAX_TAG_LENGTH, `at most ${MAX_TAG_LENGTH} characters`),
    ),
  ),
});

export const SearchQuery = v.object({
  q: v.pipe(
    v.string("is required"),
    v.trim(),
    v.minLength(1, "is required"),
    v.maxLength(200, "at most 200 characters"),
  ),
  limit: queryInt(1, 100, 20),
});

export const VisibilityBody = v.object({ visibility });

const expiry = v.pipe(
  v.number("must be a number"),
  v.integer("must be a whole number"),
  v.minValue(60, "must be 60–604800 seconds"),
  v.maxValue(604800, "must be 60–604800 seconds"),
);
// `expires_in` is the name one of the reference's pages uses for the same thing.
export const SignedUrlBody = v.object({
  expires_in_seconds: v.optional(expiry),
  expires_in: v.optional(expiry),
  /** One of the image's paths, with any extension (`photo.webp`, `photo.auto`): the variant's format. */
  path: v.optional(v.pipe(v.string(), v.maxLength(1024, "must be at most 1024 characters"))),
  /**
   * Which URL to sign: `native` (`/i/…`, the default) or `imgwire` (the Imgwire CDN, whose
   * parameters the options then are, and whose path may end in `@preset`).
   */
  dialect: v.optional(v.picklist(["native", "imgwire"], "must be native or imgwire")),
  /** The native URL options the signature covers (`{"w": 200, "fit": "cover"}`), or a query string. */
  options: v.optional(
    v.union(
      [v.record(v.string(), v.union([v.string(), v.number()])), v.pipe(v.string(), v.maxLength(2048))],
      "must be an object of URL options or a query string",
    ),
  ),
});

export const imageRoutes = new Hono<Env>()
  .post("/", async (c) => {
    const { ingest, metering } = c.var.services;
    const { user } = c.var.principal;
    const { upload, fields, filename } = await receiveUpload(c, ingest, {
      uploader: { user },
      notMultipart: "Send multipart/form-data with the image in a 'file' field",
    });
    try {
      const f = parse(UploadFields, fields);
      const library = libraryFields(f);
      let name = filename;
      if (f.url !== undefined && f.url !== "") {
        if (upload.received) throw invalid("url", "give a file or a url, not both");
        name = await receiveUrl(c.var.services.fetcher, upload, f.url);
      }
      requireFile(upload);
      if (f.visibility === "private") metering.requireFeature(user, "private_images");
      const target = f.target_path ?? f.path;
      const { image, isNew, stripped } = await upload.store({
        filename: name || "image",
        path: target === "" ? undefined : target,
        visibility: f.visibility,
        ...library,
        sourceUrl: f.url ? Fetcher.parseUrl(f.url).href : null,
        strip: f.strip,
      });
      return c.json({ ...uploadResponse(baseUrl(c), user, image, isNew), stripped }, 201);
    } finally {
      await upload.discard();
    }
  })
  .get("/", async (c) => {
    const raw = c.req.query();
    const parsed = parse(ListQuery, raw, "query");
    if (raw.page !== undefined && raw.offset !== undefined) {
      throw invalid("page", "give page or offset, not both");
    }
    const q = { ...parsed, offset: raw.page !== undefined ? (parsed.page - 1) * parsed.limit : parsed.offset };
    const { user } = c.var.principal;
    const result = await c.var.services.images.list(user.id, q);
    setPageHeaders(c, result.total, Math.floor(q.offset / q.limit) + 1, q.limit);
    const now = c.var.services.config.now();
    return c.json({
      images: result.images.map((img) => listItem(baseUrl(c), user, img, now)),
      folders: result.folders,
      total: result.total,
      limit: q.limit,
      offset: q.offset,
      has_more: q.offset + result.images.length < result.total,
      path_filter: q.path ?? null,
    });
  })
  .get("/search", async (c) => {
    const q = parse(SearchQuery, c.req.query(), "query");
    const { user } = c.var.principal;
    const result = await c.var.services.images.search(user.id, q.q, q.limit);
    const now = c.var.services.config.now();
    return c.json({
      results: result.images.map((img) => {
        const { active_signed_url: _, ...item } = listItem(baseUrl(c), user, img, now);
        return item;
      }),
      total: result.total,
      query: q.q,
    });
  })
  .get("/:id", async (c) => {
    const { user } = c.var.principal;
    const img = await c.var.services.images.get(user.id, c.req.param("id"));
    return c.json(metadataResponse(baseUrl(c), user, img, await c.var.services.images.layout(img)));
  })
  .delete("/:id", async (c) => {
    const { user } = c.var.principal;
    const [img] = await c.var.services.images.delete(user.id, [c.req.param("id")]);
    if (!img) throw new AppError("NOT_FOUND", "Image not found");
    return c.json({
      success: true,
      message: "Image deleted",
      deleted_paths: img.paths,
      deleted_at: rfc3339(c.var.services.config.now()),
    });
  })
  .post("/:id/purge", async (c) => {
    const { user } = c.var.principal;
    const r = await c.var.services.purge.image(user.id, c.req.param("id"), baseUrl(c));
    return c.json({
      success: true,
      id: r.id,
      generation: r.generation,
      urls: r.urls,
      cdn: r.cdn && { requests: r.cdn.requests, failed: r.cdn.failed },
      purged_at: rfc3339(c.var.services.config.now()),
    });
  })
  .post("/:id/signed-url", async (c) => {
    c.var.services.metering.requireFeature(c.var.principal.user, "signed_urls");
    const body = parse(SignedUrlBody, await jsonBody(c.req.raw));
    const { images, config, tokens } = c.var.services;
    const { user } = c.var.principal;
    const img = await images.get(user.id, c.req.param("id"));
    const seconds = body.expires_in_seconds ?? body.expires_in ?? 3600;
    const expires = Math.floor(config.now() / 1000) + seconds;
    const imgwire = body.dialect === "imgwire";
    // Imgwire's CDN names a preset after the path (`photo.jpg@small`): signed with the path.
    const at = imgwire && body.path ? body.path.lastIndexOf("@") : -1;
    const preset = at > (body.path?.lastIndexOf("/") ?? 0) ? body.path!.slice(at) : "";
    const path =
      body.path === undefined ? img.paths[0] : validatePath(preset ? body.path.slice(0, at) : body.path, "path");
    if (!img.paths.some((p) => stemOf(p) === stemOf(path)))
      throw invalid("path", `is not a path of this image (${img.paths.join(", ")})`);
    const options = new URLSearchParams(
      typeof body.options === "string"
        ? body.options.replace(/^\?/, "")
        : Object.entries(body.options ?? {}).map(([k, val]) => [k, String(val)]),
    );
    // Checked as a delivery would check them, so no URL is signed that could only give a 400.
    if (SIGNATURE_KEYS.some((k) => options.has(k))) throw invalid("options", "must not carry a signature");
    if (imgwire) splitImgwireQuery(options);
    else if (options.has("placeholder"))
      placeholderDelivery({ username: user.username, path, search: options }).options?.();
    else if (isImgixQuery(options)) parseImgixQuery(options);
    else parseParams(splitQuery(options).params, "options");
    const token = imgwire
      ? sign(tokens, user.username, path + preset, options, expires, "imgwire-cdn-url")
      : sign(tokens, user.username, path, options, expires);
    const query = options.toString();
    const target = imgwire
      ? `${baseUrl(c)}${config.imgwireMount}/cdn/${encodeURIComponent(user.username)}/${encodePath(path)}${encodeURIComponent(preset).replace("%40", "@")}`
      : cdnUrl(baseUrl(c), user.username, path);
    const url = `${target}?${query ? `${query}&` : ""}token=${token}&expires=${expires}`;
    await images.recordSignedUrl(img.id, url, expires * 1000);
    return c.json({ signed_url: url, expires_at: expires, expires_in_seconds: seconds });
  })
  .on(["PUT", "PATCH"], "/:id/visibility", async (c) => {
    const body = parse(VisibilityBody, await jsonBody(c.req.raw));
    if (body.visibility === "private") c.var.services.metering.requireFeature(c.var.principal.user, "private_images");
    const img = await c.var.services.images.setVisibility(c.var.principal.user.id, c.req.param("id"), body.visibility);
    return c.json({ id: img.id, visibility: img.visibility, message: `Visibility updated to ${img.visibility}` });
  });

/** The caller's own path named by `/{username}/{filepath}`; the path may arrive percent-encoded whole. */
function ownPath(c: Context<Env>): string {
  if (c.req.param("username") !== c.var.principal.user.username)
    throw new AppError("FORBIDDEN", "That path belongs to another user");
  const raw = rawPathUnder(c, `${MOUNTS.api}/images/path`, 1);
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    throw invalid("filepath", "is not valid percent-encoding");
  }
  return validatePath(path, "filepath");
}

/** `/api/v1/images/path/{username}/{filepath}`: the image a path (or its name with another extension) holds. */
export const pathRoutes = new Hono<Env>()
  .get("/:username/*", async (c) => {
    const { user } = c.var.principal;
    const found = await c.var.services.images.resolvePath(user.id, ownPath(c));
    if (!found) throw new AppError("NOT_FOUND", "No image at this path");
    const img = await c.var.services.images.get(user.id, found.image.id);
    return c.json(metadataResponse(baseUrl(c), user, img, await c.var.services.images.layout(img)));
  })
  .delete("/:username/*", async (c) => {
    const { user } = c.var.principal;
    const r = await c.var.services.images.deletePath(user.id, ownPath(c));
    return c.json({
      success: true,
      message: r.imageDeleted ? "Path removed; it was the image's last path, so the image was deleted" : "Path removed",
      remaining_paths: r.remaining,
      image_deleted: r.imageDeleted,
      deleted_at: rfc3339(c.var.services.config.now()),
    });
  });

/** The library fields a native upload may set (tags, custom metadata), all errors at once. */
function libraryFields(f: v.InferOutput<typeof UploadFields>): { tags?: string[]; metadata?: Record<string, unknown> } {
  const e = new FieldErrors();
  const tags = f.tags ? parseTags(f.tags, e) : undefined;
  let metadata: Record<string, unknown> | undefined;
  if (f.metadata) {
    let raw: unknown;
    try {
      raw = JSON.parse(f.metadata);
    } catch {
      e.add("metadata", "must be a JSON object");
    }
    if (raw !== undefined) {
      if (!raw || typeof raw !== "object" || Array.isArray(raw)) e.add("metadata", "must be a JSON object");
      else {
        metadata = parseCustom(raw as Record<string, unknown>, e, false);
        checkCustomSize(metadata, e);
      }
    }
  }
  e.throwIfAny();
  return { ...(tags ? { tags } : {}), ...(metadata ? { metadata } : {}) };
}

/** Fetches `raw` through the SSRF-safe fetcher into the upload; returns the file name the URL suggests. */
async function receiveUrl(fetcher: Fetcher, upload: Upload, raw: string): Promise<string> {
  const url = Fetcher.parseUrl(raw);
  const fetched = await fetcher.open(url.href, upload.maxBytes);
  await upload.receive(fetched.body).catch((err) => {
    if (!(err instanceof AppError && err.code === "INVALID_FILE")) throw err;
    throw new AppError("INVALID_FILE", `The URL did not return an image: ${err.message}`, {
      field: "url",
      reason: "fetch_failed",
    });
  });
  return fetched.filename;
}
