import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Db } from "../../db/connection.ts";
import type { ResumableUpload, UploadFields } from "../../db/schema.ts";

export type { ResumableUpload, UploadFields } from "../../db/schema.ts";
import type { PartStore } from "../../store/types.ts";
import { AppError } from "../errors.ts";
import type { Ingest, Stored, Uploader } from "./ingest.ts";

// Resumable uploads (the tus protocol's model): created with their length and fields, then
// received in parts, each PATCH one object in the part store, recorded in the `uploads` row by
// a compare-and-set on the offset (two nodes taking the same offset: one wins, the other's part
// goes). The part that makes the upload whole streams every part, in order, into the one
// ingest path (admission, limits, probe, decode, dedup); refused there, nothing is kept.
// A part whose request did not bring all its bytes is dropped: the client resumes from the
// offset before it.

export interface ResumableDeps {
  db: Db;
  parts: PartStore;
  ingest: Ingest;
  /** How long an upload may take from its creation (IMGD_UPLOAD_EXPIRY). */
  expiryMs: number;
  now: () => number;
}

export interface NewUpload {
  length: number;
  /** The Upload-Metadata header as sent (given back on HEAD). */
  rawMetadata: string | null;
  fields: UploadFields;
}

export interface PartInput {
  offset: number;
  body: AsyncIterable<Uint8Array> | null;
  /** The request's Content-Length, when it gave one: fewer bytes means the request was cut. */
  declaredBytes?: number;
  /** The SHA-256 the part must have (the checksum extension). */
  sha256?: Uint8Array;
}

export interface Appended {
  upload: ResumableUpload;
  /** The image, when this part made the upload whole. */
  stored?: Stored;
}

const gone = () => new AppError("NOT_FOUND", "Upload not found");

export class ResumableUploads {
  constructor(private readonly d: ResumableDeps) {}

  /** Admitted like any upload (size limit, month's uploads, storage) before it exists. */
  async create(uploader: Uploader, input: NewUpload): Promise<ResumableUpload> {
    await this.d.ingest.admit(uploader, { declaredBytes: input.length });
    const now = this.d.now();
    const row = {
      id: randomBytes(16).toString("hex"),
      user_id: uploader.user.id,
      upload_length: input.length,
      upload_offset: 0,
      raw_metadata: input.rawMetadata,
      upload_fields: JSON.stringify(input.fields),
      upload_parts: "[]",
      image_id: null,
      expires_at: now + this.d.expiryMs,
      created_at: now,
      updated_at: now,
    };
    await this.d.db.insertInto("uploads").values(row).execute();
    return this.get(uploader.user.id, row.id);
  }

  /** The tenant's upload; another tenant's is as missing as one that never was. */
  async get(userId: string, id: string): Promise<ResumableUpload> {
    if (!/^[0-9a-f]{32}$/.test(id)) throw gone();
    const row = await this.d.db
      .selectFrom("uploads")
      .selectAll()
      .where("id", "=", id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    if (!row) throw gone();
    const upload = { ...row, upload_length: Number(row.upload_length), upload_offset: Number(row.upload_offset) };
    if (Number(row.expires_at) <= this.d.now())
      throw new AppError("NOT_FOUND", "Upload expired", { reason: "expired" });
    return upload;
  }

  /** Receives one part at `offset`; the part that completes the upload stores the image. */
  async append(uploader: Uploader, id: string, part: PartInput): Promise<Appended> {
    const upload = await this.get(uploader.user.id, id);
    if (part.offset !== upload.upload_offset)
      throw new AppError("CONFLICT", `Upload-Offset is ${part.offset}, the upload is at ${upload.upload_offset}`);
    const left = upload.upload_length - upload.upload_offset;
    const tooLong = () =>
      new AppError("PAYLOAD_TOO_LARGE", `The part runs past Upload-Length (${left} bytes are left)`);
    if ((part.declaredBytes ?? 0) > left) throw tooLong();
    if (!part.body || part.declaredBytes === 0) return { upload };
    const name = `${String(part.offset).padStart(15, "0")}-${randomBytes(4).toString("hex")}`;
    const hash = createHash("sha256");
    const counted = async function* (body: AsyncIterable<Uint8Array>) {
      let seen = 0;
      for await (const chunk of body) {
        seen += chunk.byteLength;
        if (seen > left) throw tooLong();
        hash.update(chunk);
        yield chunk;
      }
    };
    const size = await this.d.parts.put(id, name, counted(part.body));
    const drop = async (err: AppError) => {
      await this.d.parts.delete(id, name);
      throw err;
    };
    if (part.declaredBytes !== undefined && size !== part.declaredBytes)
      await drop(new AppError("VALIDATION_ERROR", "The request ended before its Content-Length"));
    if (part.sha256 && !sameDigest(hash.digest(), part.sha256))
      await drop(
        new AppError("VALIDATION_ERROR", "Upload-Checksum does not match the part received", {
          reason: "checksum_mismatch",
        }),
      );
    if (size === 0) {
      await this.d.parts.delete(id, name);
      return { upload };
    }
    const offset = upload.upload_offset + size;
    const parts = [...upload.upload_parts, { name, size }];
    const now = this.d.now();
    const done = await this.d.db
      .updateTable("uploads")
      .set({ upload_offset: offset, upload_parts: JSON.stringify(parts), updated_at: now })
      .where("id", "=", id)
      .where("upload_offset", "=", upload.upload_offset)
      .where("image_id", "is", null)
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) !== 1)
      await drop(new AppError("CONFLICT", "Another request moved the upload on meanwhile: ask for its offset again"));
    const moved = { ...upload, upload_offset: offset, upload_parts: parts, updated_at: now };
    if (offset < upload.upload_length) return { upload: moved };
    return this.#finish(uploader, moved);
  }

  /** The whole upload into the one ingest path; refused there, the upload and its parts go. */
  async #finish(uploader: Uploader, upload: ResumableUpload): Promise<Appended> {
    const { ingest, parts } = this.d;
    let stored: Stored;
    try {
      const admission = await ingest.admit(uploader, { declaredBytes: upload.upload_length });
      stored = await ingest.run(admission, async (received) => {
        await received.receive(concat(parts, upload));
        return received.store({ ...upload.upload_fields, filename: upload.upload_fields.filename || "image" });
      });
    } catch (err) {
      await this.#remove(upload.id);
      throw err;
    }
    await this.d.db.updateTable("uploads").set({ image_id: stored.image.id }).where("id", "=", upload.id).execute();
    await parts.clear(upload.id);
    return { upload: { ...upload, image_id: stored.image.id }, stored };
  }

  /** Termination: the upload and its parts go (a stored image stays). */
  async terminate(userId: string, id: string) {
    await this.get(userId, id);
    await this.#remove(id);
  }

  async #remove(id: string) {
    await this.d.db.deleteFrom("uploads").where("id", "=", id).execute();
    await this.d.parts.clear(id);
  }

  /**
   * The sweeper's job: expired uploads go with their parts, and parts no upload names (a crash
   * between the two). Returns how many uploads went.
   */
  async sweep(): Promise<number> {
    const now = this.d.now();
    const expired = await this.d.db.selectFrom("uploads").select("id").where("expires_at", "<=", now).execute();
    for (const { id } of expired) await this.#remove(id);
    for await (const id of this.d.parts.uploads()) {
      const row = await this.d.db.selectFrom("uploads").select("id").where("id", "=", id).executeTakeFirst();
      if (!row) await this.d.parts.clear(id);
    }
    return expired.length;
  }
}

async function* concat(parts: PartStore, upload: ResumableUpload): AsyncIterable<Uint8Array> {
  for (const part of upload.upload_parts) {
    const reader = parts.stream(upload.id, part.name).getReader();
    let done = false;
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) yield r.value;
      done = true;
    } finally {
      // Stopped early (refused past a limit): the part's file or request is closed.
      if (!done) await reader.cancel().catch(() => {});
    }
  }
}

function sameDigest(a: Uint8Array, b: Uint8Array) {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}
