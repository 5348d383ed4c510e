import { createHash } from "node:crypto";
import exifr from "exifr";
import type { ApiKey, ImgwireToken, ImgwireUpload } from "../../db/schema.ts";
import type { Db } from "../../db/connection.ts";
import { AppError, notFound } from "../errors.ts";
import type { Fetcher } from "../fetcher/fetcher.ts";
import { newId, randomAlnum } from "../ids.ts";
import type { Admission, Ingest } from "../ingest/ingest.ts";
import { clientOptions } from "./keys.ts";
import type { Tokens } from "../tokens/tokens.ts";
import type { Users } from "../accounts/users.ts";

// Imgwire's two-step upload: the image is promised first (an id, status PENDING and a signed,
// expiring, single-use upload URL), and becomes READY when its bytes arrive and prove to be
// what was declared; anything else leaves it in QUARANTINE with no blob kept. Idempotency
// keys, tokens and the single use are all decided by the database, never by one process.

export interface UploadDeclaration {
  fileName: string;
  mimeType?: string | null;
  contentLength?: number | null;
  hashSha256?: string | null;
  idempotencyKey?: string | null;
  purpose?: string | null;
  customMetadata?: Record<string, unknown>;
}

export interface UploadsDeps {
  db: Db;
  users: Users;
  ingest: Ingest;
  fetcher: Fetcher;
  tokens: Tokens;
  urlTtlMs: number;
  tokenTtlMs: number;
  now: () => number;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export class ImgwireUploads {
  constructor(private readonly d: UploadsDeps) {}

  get(userId: string, id: string): Promise<ImgwireUpload | undefined> {
    return this.d.db
      .selectFrom("imgwire_uploads")
      .selectAll()
      .where("id", "=", id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
  }

  /**
   * One page of a tenant's images as Imgwire lists them: stored images and the uploads that
   * have not become one (pending, processing, quarantined), newest first.
   */
  async page(userId: string, limit: number, offset: number, now: number): Promise<{ ids: string[]; total: number }> {
    const { db } = this.d;
    const live = db
      .selectFrom("images")
      .select(["id", "created_at"])
      .where("user_id", "=", userId)
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]));
    // A READY upload has an image row with the same id: listed once, through the image.
    const unfinished = db
      .selectFrom("imgwire_uploads")
      .select(["id", "created_at"])
      .where("user_id", "=", userId)
      .where("status", "!=", "READY");
    const all = live.unionAll(unfinished);
    const [rows, count] = await Promise.all([
      db
        .selectFrom(all.as("u"))
        .select("u.id")
        .orderBy("u.created_at", "desc")
        .orderBy("u.id", "desc")
        .limit(limit)
        .offset(offset)
        .execute(),
      db
        .selectFrom(all.as("u"))
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow(),
    ]);
    return { ids: rows.map((r) => r.id), total: Number(count.n) };
  }

  many(ids: string[]): Promise<ImgwireUpload[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.d.db.selectFrom("imgwire_uploads").selectAll().where("id", "in", ids).execute();
  }

  async createToken(userId: string): Promise<{ token: string; row: ImgwireToken }> {
    const now = this.d.now();
    const token = `iwut_${randomAlnum(40)}`;
    const row = {
      id: newId(now),
      user_id: userId,
      token_hash: sha256(token),
      used_at: null,
      expires_at: now + this.d.tokenTtlMs,
      created_at: now,
      updated_at: now,
    };
    await this.d.db.insertInto("imgwire_upload_tokens").values(row).execute();
    return { token, row };
  }

  /** Marks a token used, once; says why it cannot be. Returns the token's id. */
  async consumeToken(userId: string, token: string): Promise<string> {
    const now = this.d.now();
    const hash = sha256(token);
    const r = await this.d.db
      .updateTable("imgwire_upload_tokens")
      .set({ used_at: now, updated_at: now })
      .where("token_hash", "=", hash)
      .where("user_id", "=", userId)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    const row = await this.d.db
      .selectFrom("imgwire_upload_tokens")
      .selectAll()
      .where("token_hash", "=", hash)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    if (r.numUpdatedRows > 0n && row) return row.id;
    if (!row) throw new AppError("FORBIDDEN", "upload_token is not valid");
    if (row.used_at !== null) throw new AppError("FORBIDDEN", "upload_token has been used already");
    throw new AppError("FORBIDDEN", "upload_token has expired");
  }

  /**
   * Promises an image; the same idempotency key from the same API key returns the first
   * record, however many race. Another key's idempotency key is another upload: a public
   * client key must not pick up a server key's pending upload (its id, metadata, upload URL).
   */
  async create(
    userId: string,
    key: ApiKey,
    decl: UploadDeclaration,
    tokenId: string | null,
    status: "PENDING" | "PROCESSING" = "PENDING",
  ): Promise<{ upload: ImgwireUpload; created: boolean }> {
    const now = this.d.now();
    if (decl.idempotencyKey) {
      const same = await this.#byIdempotency(userId, key.id, decl.idempotencyKey);
      if (same) return { upload: same, created: false };
    }
    const opts = clientOptions(key);
    if (opts && opts.maximum_pending_uploads !== null) {
      const { n } = await this.d.db
        .selectFrom("imgwire_uploads")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("key_id", "=", key.id)
        .where("status", "=", "PENDING")
        .where("upload_expires_at", ">", now)
        .executeTakeFirstOrThrow();
      if (Number(n) >= opts.maximum_pending_uploads) {
        throw new AppError(
          "RATE_LIMIT_EXCEEDED",
          `This client key allows at most ${opts.maximum_pending_uploads} pending uploads`,
        );
      }
    }
    const row: ImgwireUpload = {
      id: newId(now),
      user_id: userId,
      key_id: key.id,
      status,
      file_name: decl.fileName.slice(0, 255),
      declared_mime: decl.mimeType ?? null,
      declared_length: decl.contentLength ?? null,
      declared_hash: decl.hashSha256?.toLowerCase() ?? null,
      idempotency_key: decl.idempotencyKey ?? null,
      purpose: decl.purpose ?? null,
      custom_metadata: decl.customMetadata ?? {},
      exif_data: {},
      upload_token_id: tokenId,
      processed_metadata_at: null,
      upload_expires_at: status === "PENDING" ? now + this.d.urlTtlMs : null,
      created_at: now,
      updated_at: now,
    };
    const r = await this.d.db
      .insertInto("imgwire_uploads")
      .values({ ...row, custom_metadata: JSON.stringify(row.custom_metadata), exif_data: "{}" })
      .onConflict((oc) => oc.columns(["user_id", "key_id", "idempotency_key"]).doNothing())
      .executeTakeFirst();
    if (decl.idempotencyKey && !r.numInsertedOrUpdatedRows) {
      const same = await this.#byIdempotency(userId, key.id, decl.idempotencyKey);
      if (same) return { upload: same, created: false };
    }
    return { upload: row, created: true };
  }

  #byIdempotency(userId: string, keyId: string, key: string) {
    return this.d.db
      .selectFrom("imgwire_uploads")
      .selectAll()
      .where("user_id", "=", userId)
      .where("key_id", "=", keyId)
      .where("idempotency_key", "=", key)
      .executeTakeFirst();
  }

  /** Whose upload an id is (for CORS preflights, which carry no signature), or undefined. */
  async ownerOf(id: string): Promise<string | undefined> {
    return (await this.d.db.selectFrom("imgwire_uploads").select("user_id").where("id", "=", id).executeTakeFirst())
      ?.user_id;
  }

  /** An absolute upload URL for a pending upload: HMAC over id and expiry. */
  signUploadPath(upload: ImgwireUpload): string {
    const expires = Math.floor((upload.upload_expires_at ?? 0) / 1000);
    return `uploads/${upload.id}?expires=${expires}&signature=${this.d.tokens.signExpiring("imgwire-upload-url", [upload.id], expires)}`;
  }

  /** Checks an upload URL's signature and expiry; returns the upload it names. */
  async verifyUploadUrl(
    id: string,
    expires: string | undefined,
    signature: string | undefined,
  ): Promise<ImgwireUpload> {
    const check = this.d.tokens.checkExpiring("imgwire-upload-url", [id], expires, signature);
    if (check === "expired") throw new AppError("FORBIDDEN", "This upload URL has expired: create a new upload");
    if (check !== "valid") throw new AppError("FORBIDDEN", "This upload URL is not valid");
    const upload = await this.d.db.selectFrom("imgwire_uploads").selectAll().where("id", "=", id).executeTakeFirst();
    if (!upload) throw notFound("Upload");
    return upload;
  }

  /**
   * Receives the bytes of a pending upload. Admission (size limits, the month's uploads, the
   * storage left) comes first: a refusal there reads no byte and leaves the upload pending.
   * The claim (PENDING → PROCESSING) is one conditional update, so a URL works once even when
   * two PUTs race.
   */
  async complete(
    upload: ImgwireUpload,
    key: ApiKey | undefined,
    body: AsyncIterable<Uint8Array>,
    put: { contentLength: number; contentType: string | null },
  ) {
    const admission = await this.admit(upload.user_id, key, put.contentLength);
    const now = this.d.now();
    const claimed = await this.d.db
      .updateTable("imgwire_uploads")
      .set({ status: "PROCESSING", updated_at: now })
      .where("id", "=", upload.id)
      .where("status", "=", "PENDING")
      .executeTakeFirst();
    if (claimed.numUpdatedRows === 0n) throw new AppError("CONFLICT", "This upload URL has been used already");
    return this.#ingest(upload, key, admission, body, put.contentType, put.contentLength);
  }

  /** Fetches a URL through the SSRF-safe fetcher into an upload record made PROCESSING. */
  async fromUrl(upload: ImgwireUpload, key: ApiKey, url: string) {
    let admission: Admission;
    let fetched;
    try {
      admission = await this.admit(upload.user_id, key, null);
      fetched = await this.d.fetcher.open(url, admission.maxBytes);
    } catch (err) {
      // Nothing was stored: a retry with the same idempotency key may try again.
      await this.d.db.deleteFrom("imgwire_uploads").where("id", "=", upload.id).execute();
      throw err;
    }
    return this.#ingest(upload, key, admission, fetched.body, null, null);
  }

  /**
   * The upload admission of every dialect (plan size limit, month's uploads, storage left),
   * within this key's own size limit; `declaredBytes` is what the client said it will send.
   */
  async admit(userId: string, key: ApiKey | undefined, declaredBytes: number | null): Promise<Admission> {
    const user = await this.d.users.byId(userId);
    if (!user) throw notFound("Environment");
    const limit = key ? clientOptions(key)?.maximum_upload_bytes : null;
    return this.d.ingest.admit({ user, maxBytes: limit ?? null }, { declaredBytes });
  }

  async #ingest(
    upload: ImgwireUpload,
    key: ApiKey | undefined,
    admission: Admission,
    body: AsyncIterable<Uint8Array>,
    contentType: string | null,
    length: number | null,
  ) {
    try {
      await this.d.ingest.run(admission, async (u) => {
        if (length !== null && upload.declared_length !== null && length !== upload.declared_length) {
          throw new AppError(
            "INVALID_FILE",
            `Content-Length ${length} differs from the declared content_length ${upload.declared_length}`,
          );
        }
        const { size, hash, header } = await u.receive(body);
        if (upload.declared_length !== null && size !== upload.declared_length) {
          throw new AppError(
            "INVALID_FILE",
            `Received ${size} bytes, but content_length declared ${upload.declared_length}`,
          );
        }
        if (upload.declared_hash !== null && hash !== upload.declared_hash) {
          throw new AppError("INVALID_FILE", "The bytes do not match the declared hash_sha256");
        }
        const mime = imgwireMime(header.mime);
        if (upload.declared_mime !== null && mime !== upload.declared_mime) {
          throw new AppError("INVALID_FILE", `The file is ${mime}, but mime_type declared ${upload.declared_mime}`);
        }
        const sent = contentType?.split(";")[0].trim().toLowerCase();
        if (
          sent &&
          sent.startsWith("image/") &&
          sent !== mime &&
          sent !== header.mime &&
          !(sent === "image/jpg" && mime === "image/jpeg")
        ) {
          throw new AppError("INVALID_FILE", `Content-Type ${sent} does not match the file, which is ${mime}`);
        }
        if (header.format === "svg") throw new AppError("INVALID_FILE", "SVG is not a supported Imgwire image type");
        const allowed = key ? clientOptions(key)?.allowed_mime_types : null;
        if (allowed && !allowed.includes(mime))
          throw new AppError("INVALID_FILE", `This client key does not accept ${mime}`);
        const exif = await readExif(await u.read());
        await u.store({
          id: upload.id,
          filename: upload.file_name,
          separate: true,
          metadata: upload.custom_metadata,
        });
        const now = this.d.now();
        await this.d.db
          .updateTable("imgwire_uploads")
          .set({ status: "READY", exif_data: JSON.stringify(exif), processed_metadata_at: now, updated_at: now })
          .where("id", "=", upload.id)
          .execute();
      });
    } catch (err) {
      await this.d.db
        .updateTable("imgwire_uploads")
        .set({ status: "QUARANTINE", updated_at: this.d.now() })
        .where("id", "=", upload.id)
        .execute();
      throw err;
    }
  }

  /** Removes upload records that never became images (pending, quarantined). */
  async deleteRecords(userId: string, ids: string[]) {
    if (ids.length === 0) return;
    await this.d.db.deleteFrom("imgwire_uploads").where("user_id", "=", userId).where("id", "in", ids).execute();
  }
}

/** Imgwire's SupportedMimeType: what an upload may declare. */
export const IMGWIRE_MIMES = [
  "image/jpeg",
  "image/jxl",
  "image/png",
  "image/webp",
  "image/avif",
  "image/gif",
  "image/vnd.microsoft.icon",
  "image/heic",
  "image/bmp",
  "image/tiff",
] as const;
const SUPPORTED_MIME = new Set<string>(IMGWIRE_MIMES);

/**
 * The SupportedMimeType spelling of a probed type. Types the enum lacks (SVG, TGA, QOI, PNM,
 * Radiance HDR) are reported as PNG, as SVG always was: a value the SDKs accept, and a format
 * every one of them converts to.
 */
export function imgwireMime(mime: string): string {
  if (mime === "image/x-icon") return "image/vnd.microsoft.icon";
  return SUPPORTED_MIME.has(mime) ? mime : "image/png";
}

/** EXIF as plain JSON (dates as text, binary left out); a file without EXIF gives {}. */
async function readExif(bytes: Uint8Array): Promise<Record<string, unknown>> {
  try {
    const parsed = await exifr.parse(bytes, { translateValues: false, xmp: false, icc: false, iptc: false });
    if (!parsed || typeof parsed !== "object") return {};
    return JSON.parse(
      JSON.stringify(parsed, (_k, v) => (v instanceof Uint8Array || ArrayBuffer.isView(v) ? undefined : v)),
    );
  } catch {
    return {};
  }
}
