import { type Context, Hono } from "hono";
import * as v from "valibot";
import type { ImgwireUpload, User } from "../../domain/records.ts";
import { AppError } from "../../domain/errors.ts";
import { Fetcher } from "../../domain/fetcher/fetcher.ts";
import type { ImageRecord } from "../../domain/library/images.ts";
import { clientOptions } from "../../domain/imgwire/keys.ts";
import { IMGWIRE_MIMES } from "../../domain/imgwire/uploads.ts";
import { apiBase, body, cdnBase, type ImgwireEnv, PageQuery, paged, parseIn, pathId } from "./context.ts";
import { downloadSchema, imageSchema, tokenSchema } from "./shape.ts";

/** The services these routes use. */
type Env = ImgwireEnv<"config" | "images" | "imgwire" | "log" | "tokens">;
type C = Context<Env>;

const MIMES = IMGWIRE_MIMES;
const nullish = <S extends v.GenericSchema>(s: S) => v.optional(v.nullable(s));
const short = v.pipe(
  v.string(),
  v.minLength(1, "String should have at least 1 character"),
  v.maxLength(255, "String should have at most 255 characters"),
);
const metadata = v.optional(
  v.record(v.string(), v.union([v.string(), v.number(), v.boolean()], "Input should be a string, number or boolean")),
);

export const StandardUpload = v.object({
  file_name: v.pipe(v.string("Field required"), v.minLength(1, "String should have at least 1 character")),
  mime_type: nullish(v.picklist(MIMES, "Input should be a supported image MIME type")),
  content_length: nullish(
    v.pipe(
      v.number(),
      v.integer("Input should be a valid integer"),
      v.minValue(0, "Input should be greater than or equal to 0"),
    ),
  ),
  hash_sha256: nullish(short),
  idempotency_key: nullish(short),
  purpose: nullish(short),
  custom_metadata: metadata,
});

export const UploadViaUrl = v.object({
  url: v.pipe(v.string("Field required"), v.minLength(1, "String should have at least 1 character")),
  file_name: nullish(v.pipe(v.string(), v.minLength(1))),
  mime_type: nullish(v.picklist(MIMES, "Input should be a supported image MIME type")),
  idempotency_key: nullish(short),
  purpose: nullish(short),
  custom_metadata: metadata,
});

export const IdList = v.object({
  image_ids: v.pipe(
    v.array(v.pipe(v.string(), v.uuid("Input should be a valid UUID"), v.toLowerCase())),
    v.minLength(1, "List should have at least 1 item"),
  ),
});

/** Images and upload records by id, shaped; unknown ids are left out. */
async function shapeMany(c: C, user: User, ids: string[], images?: ImageRecord[]) {
  const imgs = images ?? (await c.var.services.images.many(user.id, ids));
  const ups = await c.var.services.imgwire.uploads.many(ids);
  const base = await cdnBase(c, user);
  const byImg = new Map(imgs.map((i) => [i.id, i]));
  const byUp = new Map(ups.filter((u) => u.user_id === user.id).map((u) => [u.id, u]));
  return ids
    .filter((id) => byImg.has(id) || byUp.has(id))
    .map((id) => imageSchema(base, user, byImg.get(id), byUp.get(id)));
}

async function one(c: C, user: User, id: string) {
  const [img] = await shapeMany(c, user, [id]);
  if (!img) throw new AppError("NOT_FOUND", "Image not found");
  return img;
}

async function uploadResponse(c: C, user: User, upload: ImgwireUpload) {
  const image = await one(c, user, upload.id);
  const url =
    upload.status === "PENDING" ? `${apiBase(c)}/${c.var.services.imgwire.uploads.signUploadPath(upload)}` : "";
  return { image, upload_url: url };
}

export const imageRoutes = new Hono<Env>()
  .get("/", async (c) => {
    const q = parseIn(PageQuery, c.req.query(), "query");
    const env = c.var.env;
    const r = await c.var.services.imgwire.uploads.page(
      env.id,
      q.limit,
      (q.page - 1) * q.limit,
      c.var.services.config.now(),
    );
    return paged(c, await shapeMany(c, env, r.ids), r.total, q.page, q.limit);
  })
  .post("/standard_upload", async (c) => {
    const { uploads } = c.var.services.imgwire;
    const input = await body(c, StandardUpload);
    const principal = c.var.principal;
    const token = c.req.query("upload_token");
    const client = clientOptions(principal.key);
    if (client) {
      if (client.allowed_mime_types && input.mime_type && !client.allowed_mime_types.includes(input.mime_type)) {
        throw new AppError("FORBIDDEN", `This client key does not accept ${input.mime_type}`);
      }
      if (client.maximum_upload_bytes !== null && (input.content_length ?? 0) > client.maximum_upload_bytes) {
        throw new AppError("PAYLOAD_TOO_LARGE", `This client key accepts at most ${client.maximum_upload_bytes} bytes`);
      }
      if (!client.allow_unsigned_upload && !token)
        throw new AppError("FORBIDDEN", "This client key requires an upload_token");
    }
    // The upload admission of every dialect (size limits, the month's uploads, storage left),
    // before an upload URL is handed out; the PUT is admitted again.
    await uploads.admit(c.var.env.id, principal.key, input.content_length ?? null);
    const tokenId = token ? await uploads.consumeToken(c.var.env.id, token) : null;
    const { upload } = await uploads.create(
      c.var.env.id,
      principal.key,
      {
        fileName: input.file_name,
        mimeType: input.mime_type,
        contentLength: input.content_length,
        hashSha256: input.hash_sha256,
        idempotencyKey: input.idempotency_key,
        purpose: input.purpose,
        customMetadata: input.custom_metadata,
      },
      tokenId,
    );
    return c.json(await uploadResponse(c, c.var.env, upload));
  })
  .post("/upload_via_url", async (c) => {
    const { uploads } = c.var.services.imgwire;
    const input = await body(c, UploadViaUrl);
    const url = Fetcher.parseUrl(input.url);
    const name = input.file_name ?? decodeURIComponent(url.pathname.split("/").pop() || "") ?? "image";
    const { upload, created } = await uploads.create(
      c.var.env.id,
      c.var.principal.key,
      {
        fileName: name || "image",
        mimeType: input.mime_type,
        idempotencyKey: input.idempotency_key,
        purpose: input.purpose,
        customMetadata: input.custom_metadata,
      },
      null,
      "PROCESSING",
    );
    if (created) await uploads.fromUrl(upload, c.var.principal.key, url.href);
    return c.json(await one(c, c.var.env, upload.id));
  })
  .post("/token", async (c) => {
    const { token, row } = await c.var.services.imgwire.uploads.createToken(c.var.env.id);
    return c.json(tokenSchema(row, token));
  })
  .post("/downloads", async (c) => {
    const { downloads } = c.var.services.imgwire;
    const input = await body(c, IdList);
    const job = await downloads.create(c.var.env.id, input.image_ids);
    void downloads.runPending().catch((err) => c.var.services.log(`imgwire downloads: ${String(err)}`));
    return c.json(downloadSchema(job, null));
  })
  .get("/downloads/:image_download_job_id", async (c) => {
    const job = await c.var.services.imgwire.downloads.get(c.var.env.id, pathId(c, "image_download_job_id"));
    return c.json(downloadSchema(job, job.status === "READY" ? downloadUrl(c, job.id, job.expires_at!) : null));
  })
  .post("/bulk_delete", async (c) => {
    const input = await body(c, IdList);
    const ids = [...new Set(input.image_ids)];
    const env = c.var.env;
    const found = await shapeMany(c, env, ids);
    // All or nothing: an id this environment does not have (another's, or none) deletes nothing.
    if (found.length !== ids.length) {
      const known = new Set(found.map((f) => f.id));
      throw new AppError("NOT_FOUND", `Images not found: ${ids.filter((i) => !known.has(i)).join(", ")}`);
    }
    await c.var.services.images.delete(env.id, ids);
    await c.var.services.imgwire.uploads.deleteRecords(env.id, ids);
    return c.json({ detail: `${ids.length} images deleted` });
  })
  .get("/:image_id", async (c) => c.json(await one(c, c.var.env, pathId(c, "image_id"))))
  .delete("/:image_id", async (c) => {
    const id = pathId(c, "image_id");
    await one(c, c.var.env, id);
    await c.var.services.images.delete(c.var.env.id, [id]);
    await c.var.services.imgwire.uploads.deleteRecords(c.var.env.id, [id]);
    return c.json({ detail: "Image deleted" });
  });

/** A signed link to a finished ZIP, valid while it is kept. */
function downloadUrl(c: C, id: string, expiresMs: number) {
  const exp = Math.floor(expiresMs / 1000);
  return `${apiBase(c)}/downloads/${id}.zip?expires=${exp}&signature=${c.var.services.tokens.signExpiring("imgwire-download-url", [id], exp)}`;
}
