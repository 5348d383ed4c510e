import { type Context, Hono } from "hono";
import { AppError, invalid } from "../../domain/errors.ts";
import type { ResumableUpload, UploadFields as StoredFields } from "../../domain/ingest/resumable.ts";
import { FieldErrors, parseTags } from "../../domain/library/fields.ts";
import type { ImageRecord } from "../../domain/library/image-rows.ts";
import { uploadPath } from "../../domain/library/paths.ts";
import { requireKey } from "../auth.ts";
import type { RouteEnv } from "../env.ts";
import { baseUrl } from "../urls.ts";
import { markBodyRead, parse } from "../validate.ts";
import { UploadFields } from "./images.ts";
import { uploadResponse } from "./shape.ts";

// tus 1.0 resumable uploads (https://tus.io/protocols/resumable-upload): the core protocol and
// the creation, creation-with-upload, expiration, termination and checksum extensions, under
// the native API's key rules. An upload is the tenant's: another key is told it does not exist.
// Its metadata carries the native upload's fields, checked at creation.

type Env = RouteEnv<"config" | "uploads" | "images" | "metering" | "ownHosts" | "auth">;

export const TUS_VERSION = "1.0.0";
export const TUS_EXTENSIONS = "creation,creation-with-upload,expiration,termination,checksum";
const OFFSET_TYPE = "application/offset+octet-stream";

/** The tus answers that are not the native API's own statuses. */
class TusRefusal extends AppError {
  constructor(
    readonly tusStatus: number,
    message: string,
  ) {
    super("VALIDATION_ERROR", message);
  }
}

/** Refusals whose status the tus protocol names (460 bad checksum, 410 expired, 412, 415). */
function tusStatusOf(err: unknown): number | undefined {
  if (err instanceof TusRefusal) return err.tusStatus;
  if (!(err instanceof AppError)) return undefined;
  if (err.extra.reason === "checksum_mismatch") return 460;
  if (err.extra.reason === "expired") return 410;
  return undefined;
}

const number = (c: Context, name: string, required: boolean): number | undefined => {
  const raw = c.req.header(name);
  if (raw === undefined && !required) return undefined;
  if (raw === undefined || !/^\d{1,15}$/.test(raw)) throw invalid(name, "must be a whole number of bytes");
  return Number(raw);
};

/** `key base64,key base64,…`; a key may come without a value. */
export function parseMetadata(raw: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!raw?.trim()) return out;
  for (const pair of raw.split(",")) {
    const [key, value, extra] = pair.trim().split(" ");
    if (!key || extra !== undefined || out.has(key))
      throw invalid("Upload-Metadata", "must be comma-separated pairs of a unique key and a base64 value");
    if (value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
      throw invalid("Upload-Metadata", `the value of '${key}' is not base64`);
    out.set(key, value === undefined ? "" : Buffer.from(value, "base64").toString("utf8"));
  }
  return out;
}

/** The native upload's fields from the metadata, checked as that route checks them. */
function uploadFields(c: Context<Env>, meta: Map<string, string>): StoredFields {
  const f = parse(
    UploadFields,
    {
      target_path: meta.get("target_path"),
      path: meta.get("path"),
      visibility: meta.get("visibility"),
      strip: meta.get("strip"),
    },
    "Upload-Metadata",
  );
  const filename = (meta.get("filename") ?? meta.get("name") ?? "").slice(0, 255);
  const e = new FieldErrors();
  const tags = meta.has("tags") ? parseTags(meta.get("tags"), e) : undefined;
  e.throwIfAny();
  if (f.visibility === "private") c.var.services.metering.requireFeature(c.var.principal.user, "private_images");
  // `folder`: the name the clients use for a folder to upload into.
  const target = f.target_path ?? f.path ?? meta.get("folder");
  // The path is checked now, before any byte is kept; the format only picks an extension.
  if (target) uploadPath(target, filename || "image", "png");
  return {
    filename,
    ...(target ? { path: target } : {}),
    ...(f.visibility ? { visibility: f.visibility } : {}),
    ...(tags?.length ? { tags } : {}),
    ...(f.strip ? { strip: f.strip } : {}),
  };
}

/** The checksum extension's `sha256 <base64 digest>`. */
function checksumOf(c: Context): Uint8Array | undefined {
  const raw = c.req.header("upload-checksum");
  if (raw === undefined) return undefined;
  const m = /^(\S+) ([A-Za-z0-9+/]+={0,2})$/.exec(raw.trim());
  if (!m || m[1].toLowerCase() !== "sha256")
    throw invalid("Upload-Checksum", "must be 'sha256 <base64 digest>' (the only algorithm supported)");
  const digest = new Uint8Array(Buffer.from(m[2], "base64"));
  if (digest.byteLength !== 32) throw invalid("Upload-Checksum", "a SHA-256 digest is 32 bytes");
  return digest;
}

function uploadHeaders(c: Context<Env>, upload: ResumableUpload, image?: ImageRecord) {
  c.header("Upload-Offset", String(upload.upload_offset));
  c.header("Upload-Expires", new Date(Number(upload.expires_at)).toUTCString());
  if (image) {
    c.header("Imgd-Image-Id", image.id);
    c.header("Imgd-Image-Url", uploadResponse(baseUrl(c), c.var.principal.user, image, false).url);
  }
}

type Part = ReturnType<typeof bodyOf>;

/**
 * The bodies of PATCH and creation-with-upload requests, taken before the key is checked: Bun
 * 1.3.14 loses a request stream left alone across database calls (it is never read again).
 */
const bodies = new WeakMap<Request, Part>();

const isOffsetStream = (c: Context) => c.req.header("content-type")?.split(";")[0].trim().toLowerCase() === OFFSET_TYPE;

function bodyOf(c: Context) {
  const reader = c.req.raw.body?.getReader();
  if (!reader) return { body: null, release: () => {} };
  const body = (async function* () {
    for (let r = await reader.read(); !r.done; r = await reader.read()) yield r.value;
  })();
  return {
    body,
    release: () => {
      try {
        reader.releaseLock();
      } catch {}
    },
  };
}

async function receivePart(c: Context<Env>, id: string, offset: number) {
  const part = bodies.get(c.req.raw) ?? { body: null, release: () => {} };
  const { uploads } = c.var.services;
  try {
    const result = await uploads.append({ user: c.var.principal.user }, id, {
      offset,
      body: part.body,
      declaredBytes: number(c, "content-length", false),
      sha256: checksumOf(c),
    });
    markBodyRead(c.req.raw);
    return result;
  } finally {
    part.release();
  }
}

export const tusRoutes = new Hono<Env>()
  .use(async (c, next) => {
    const part = c.req.method === "PATCH" || (c.req.method === "POST" && isOffsetStream(c)) ? bodyOf(c) : null;
    if (part) bodies.set(c.req.raw, part);
    try {
      await next();
    } finally {
      part?.release();
    }
    const status = tusStatusOf(c.error);
    if (status && c.error) {
      c.res = c.json(
        { error: { code: (c.error as AppError).code, message: c.error.message, status, path: c.req.path } },
        status as 400,
      );
    }
    c.res.headers.set("Tus-Resumable", TUS_VERSION);
  })
  // Discovery needs no key (a browser's preflight carries none).
  .options("/*", (c) => {
    c.header("Tus-Version", TUS_VERSION);
    c.header("Tus-Extension", TUS_EXTENSIONS);
    c.header("Tus-Max-Size", String(c.var.services.config.maxUploadBytes));
    c.header("Tus-Checksum-Algorithm", "sha256");
    return c.body(null, 204);
  })
  .use(async (c, next) => {
    if (c.req.header("tus-resumable") !== TUS_VERSION) {
      c.header("Tus-Version", TUS_VERSION);
      throw new TusRefusal(412, `Tus-Resumable must be ${TUS_VERSION}`);
    }
    await next();
  })
  .use(requireKey("write"))
  .post("/", async (c) => {
    if (c.req.header("upload-defer-length") !== undefined)
      throw invalid("Upload-Defer-Length", "is not supported: give Upload-Length");
    const length = number(c, "upload-length", true)!;
    if (length === 0) throw new AppError("INVALID_FILE", "File is empty");
    const raw = c.req.header("upload-metadata");
    const fields = uploadFields(c, parseMetadata(raw));
    let upload = await c.var.services.uploads.create(
      { user: c.var.principal.user },
      {
        length,
        rawMetadata: raw ?? null,
        fields,
      },
    );
    // A path, not an origin: the client resolves it against the URL it reached us by (a proxy's).
    c.header("Location", `${new URL(baseUrl(c)).pathname.replace(/\/$/, "")}/api/v1/uploads/tus/${upload.id}`);
    let image: ImageRecord | undefined;
    if (isOffsetStream(c)) {
      const appended = await receivePart(c, upload.id, 0);
      upload = appended.upload;
      image = appended.stored?.image;
    }
    uploadHeaders(c, upload, image);
    return c.body(null, 201);
  })
  .on(["GET", "HEAD"], "/:id", async (c) => {
    const { uploads, images } = c.var.services;
    const upload = await uploads.get(c.var.principal.user.id, c.req.param("id"));
    const image = upload.image_id
      ? await images.get(upload.user_id, upload.image_id).catch(() => undefined)
      : undefined;
    uploadHeaders(c, upload, image);
    c.header("Upload-Length", String(upload.upload_length));
    if (upload.raw_metadata) c.header("Upload-Metadata", upload.raw_metadata);
    c.header("Cache-Control", "no-store");
    return c.body(null, 200);
  })
  .patch("/:id", async (c) => {
    if (!isOffsetStream(c)) throw new TusRefusal(415, `Content-Type must be ${OFFSET_TYPE}`);
    const offset = number(c, "upload-offset", true)!;
    const { upload, stored } = await receivePart(c, c.req.param("id"), offset);
    let image = stored?.image;
    if (!image && upload.image_id)
      image = await c.var.services.images.get(upload.user_id, upload.image_id).catch(() => undefined);
    uploadHeaders(c, upload, image);
    return c.body(null, 204);
  })
  .delete("/:id", async (c) => {
    await c.var.services.uploads.terminate(c.var.principal.user.id, c.req.param("id"));
    return c.body(null, 204);
  });
