import type { InspectResult, ProbeResult } from "../../../codecs/types.ts";
import { type Db, lockNames } from "../../db/connection.ts";
import type { User } from "../../db/schema.ts";
import { BlobTooLargeError, type BlobStore, type StagedBlob } from "../../store/types.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { type ImageRecord, live, type Visibility, withPaths } from "../library/image-rows.ts";
import type { Metering } from "../metering/metering.ts";
import { uploadPath } from "../library/paths.ts";
import { dropUnusedBlob } from "../library/unused-blob.ts";
import { type Events, imageData } from "../webhooks/events.ts";
import type { Stripped, StripMode } from "../../../codecs/metadata/strip.ts";
import { checkHeader } from "./header.ts";
import { claimPath, insertPath } from "./paths.ts";
import { stripStaged, tenantStrip } from "./strip.ts";

// Every way an image arrives (native multipart, img.pro upload and import, Imgwire's signed PUT
// and URL upload, the CLI through the native route) goes through these steps, in order:
//   admit   — before any byte is read: the size limit (server, plan, dialect), the month's
//             uploads, the storage left;
//   receive — stream into the blob store while hashing (cut off at the limit), then check the
//             header: format, pixel count, not cut short;
//   verify  — decode once in the codec pool (a corrupt image is refused, nothing kept);
//   store   — place the blob in the store, then count the upload against the plan and add the
//             rows in one transaction (database work only), then settle the blob.
// The staged bytes belong to the Upload: whatever happens, they are committed or discarded,
// once (the owner of `Ingest.begin`'s Upload discards it in a `finally`; `Ingest.run` does that).

export interface Uploader {
  user: User;
  /** Uploads without an account (img.pro): no plan, nothing metered, `maxBytes` limits them. */
  anonymous?: boolean;
  /** The dialect's own size limit, when it has a tighter one (an Imgwire client key, anonymous uploads). */
  maxBytes?: number | null;
}

/** An upload let in: the most bytes it may have, and the storage its tenant has left. */
export interface Admission {
  readonly uploader: Uploader;
  readonly maxBytes: number;
  /** Bytes the plan lets the tenant add (null: no storage limit). */
  readonly storageLeft: number | null;
  readonly storageLimit: number | null;
}

export interface UploadInput {
  filename: string;
  /** A folder or a full path; see `uploadPath`. */
  path?: string;
  visibility?: Visibility;
  /** Already normalised (see domain/library/fields.ts). */
  tags?: string[];
  namespace?: string | null;
  /** Custom fields, shown back as sent. */
  metadata?: Record<string, unknown>;
  expiresAt?: number | null;
  /** Unique per tenant among live images: a match returns that image instead (`deduplicated`). */
  externalId?: string | null;
  sourceUrl?: string | null;
  displayDate?: string | null;
  /** Whether the viewer page is shown (img.pro's `public`); delivery follows `visibility`. */
  pagePublic?: boolean;
  /**
   * Store as an item of its own even when the tenant has these bytes already (img.pro: every
   * upload is a new media item), under the alias `{id}.{ext}`. The blob is still shared.
   */
  separate?: boolean;
  /** The id the image gets, when the caller promised one before the bytes arrived (Imgwire). */
  id?: string;
  /** What of the original's metadata goes (default: the tenant's `strip_metadata`, else `gps`). */
  strip?: StripMode;
}

/** What was received, checked from its header, not yet stored. */
export interface Received {
  hash: string;
  size: number;
  header: ProbeResult;
}

export interface Stored {
  image: ImageRecord;
  isNew: boolean;
  /** An image with the same external id was returned instead of storing this one. */
  deduplicated?: boolean;
  /** What was removed of the upload's metadata before it was stored (see codecs/metadata). */
  stripped: Stripped[];
}

export interface IngestDeps {
  db: Db;
  blobs: BlobStore;
  metering: Metering;
  /**
   * The codec pool. `inspect` decodes the whole image once: proves it is valid and yields its
   * dominant colour, alpha and frames. The staged bytes are read when a worker takes the job
   * (queued uploads hold no image bytes); `header` is receive's probe, trusted by the codecs
   * instead of probing again.
   */
  codecs: {
    inspect(staged: StagedBlob, options: { transfer: boolean; header: ProbeResult }): Promise<InspectResult>;
  };
  limits: { maxUploadBytes: number; maxSourcePixels: number };
  now: () => number;
  events: Pick<Events, "emit">; // image.created; image.updated when an upload adds a path
}

const storageFull = (limit: number, left: number, size?: number) =>
  new AppError(
    "PLAN_LIMIT_EXCEEDED",
    `Storage limit of ${limit} bytes reached: ${left} bytes left${left > 0 ? `, the file is ${size ?? "larger"}` : ""}; delete images or move to a plan with more storage`,
    { reason: "quota_exceeded" },
  );

export class Ingest {
  constructor(private readonly d: IngestDeps) {}

  /**
   * Lets an upload in or refuses it before its body is read. `declaredBytes` is what the
   * request says it carries; `overhead` how much of that is not the file (multipart framing).
   */
  async admit(uploader: Uploader, opts: { declaredBytes?: number | null; overhead?: number } = {}): Promise<Admission> {
    const { metering, limits } = this.d;
    const { user, anonymous = false } = uploader;
    const overhead = opts.overhead ?? 0;
    const declared = opts.declaredBytes ?? NaN;
    const tooLarge = (maxBytes: number) =>
      new AppError("PAYLOAD_TOO_LARGE", `File is larger than the upload limit of ${maxBytes} bytes`);
    if (anonymous) {
      const maxBytes = Math.min(limits.maxUploadBytes, uploader.maxBytes ?? Infinity);
      if (declared > maxBytes + overhead) throw tooLarge(maxBytes);
      return { uploader, maxBytes, storageLeft: null, storageLimit: null };
    }
    const { maxBytes: planMax, storage } = await metering.uploadAllowance(user, limits.maxUploadBytes);
    const maxBytes = Math.min(planMax, uploader.maxBytes ?? Infinity);
    if (declared > maxBytes + overhead) throw tooLarge(maxBytes);
    if (storage && (storage.left === 0 || declared - overhead > storage.left)) {
      throw storageFull(
        storage.limit,
        storage.left,
        Number.isFinite(declared) && overhead === 0 ? declared : undefined,
      );
    }
    return { uploader, maxBytes, storageLeft: storage?.left ?? null, storageLimit: storage?.limit ?? null };
  }

  /**
   * Opens one upload. Its owner must `discard()` it when done (a `finally`): `store` consumes
   * the bytes, a refusal before that leaves them to the discard.
   */
  begin(admission: Admission): Upload {
    return new Upload(this.d, admission);
  }

  /** Runs one upload; its staged bytes are discarded when `fn` ends without storing them. */
  async run<T>(admission: Admission, fn: (upload: Upload) => Promise<T>): Promise<T> {
    const upload = this.begin(admission);
    try {
      return await fn(upload);
    } finally {
      await upload.discard();
    }
  }
}

/** One upload's bytes on their way in. Made by `Ingest.begin`; its owner discards it. */
export class Upload {
  #staged: StagedBlob | undefined;
  #received: Received | undefined;
  #used = false;

  constructor(
    private readonly d: IngestDeps,
    private readonly admission: Admission,
  ) {}

  get received(): Received | undefined {
    return this.#received;
  }

  /** The most bytes this upload may receive (what a fetch for it may read). */
  get maxBytes(): number {
    return this.admission.maxBytes;
  }

  /**
   * Streams the body into the blob store while hashing and checks the header (format, pixel
   * count, not cut off) without decoding. A refusal keeps nothing.
   */
  async receive(body: AsyncIterable<Uint8Array>): Promise<Received> {
    if (this.#used) throw new AppError("VALIDATION_ERROR", "file: send one file per upload", { field: "file" });
    this.#used = true;
    const { maxBytes, storageLeft, storageLimit } = this.admission;
    const byStorage = storageLeft !== null && storageLeft < maxBytes;
    const limit = byStorage ? storageLeft : maxBytes;
    let staged: StagedBlob;
    try {
      staged = await this.d.blobs.stage(body, limit);
    } catch (err) {
      if (!(err instanceof BlobTooLargeError)) throw err;
      // Cut off at the storage left: over the plan rather than too large.
      if (byStorage) throw storageFull(storageLimit!, storageLeft);
      throw new AppError("PAYLOAD_TOO_LARGE", `File is larger than the upload limit of ${maxBytes} bytes`);
    }
    this.#staged = staged;
    const header = checkHeader(staged, this.d.limits.maxSourcePixels);
    this.#received = { hash: staged.hash, size: staged.size, header };
    return this.#received;
  }

  /** The received bytes (for reading metadata before they are stored). */
  read(): Promise<Uint8Array> {
    if (!this.#staged) throw new Error("nothing received");
    return this.#staged.read();
  }

  /** Decodes the image once (proof it is whole), then stores blob and rows; the bytes are consumed either way. */
  async store(input: UploadInput): Promise<Stored> {
    if (!this.#staged || !this.#received)
      throw new AppError("VALIDATION_ERROR", "file: is required", { field: "file" });
    try {
      const stripped = await this.#strip(input.strip ?? tenantStrip(this.admission.uploader.user));
      const staged = this.#staged;
      const received = this.#received;
      const inspected = await this.d.codecs.inspect(staged, { transfer: true, header: received.header });
      // The bytes go to the store before the transaction, which then holds only database work
      // (a slow store must not hold locks other uploads and deletions wait for). Once the rows
      // are in, commit puts the bytes back if a deletion of the same content took them meanwhile.
      await staged.place();
      let stored: Omit<Stored, "stripped">;
      try {
        stored = await insert(this.d, this.admission.uploader.user.id, staged, received.header, inspected, input);
      } catch (err) {
        // Refused after the bytes were placed (a path, the plan, a conflict): they go again
        // unless a row names them.
        await dropUnusedBlob(this.d.db, this.d.blobs, staged.hash);
        throw err;
      }
      if (stored.isNew) await staged.commit();
      return { ...stored, stripped };
    } finally {
      await this.discard();
    }
  }

  /** Strips what `mode` names (see strip.ts); the received bytes become what is kept. */
  async #strip(mode: StripMode): Promise<Stripped[]> {
    const r = await stripStaged(this.d.blobs, this.#staged!, this.#received!.header.format, mode);
    if (!r) return [];
    this.#staged = r.staged;
    const header = checkHeader(r.staged, this.d.limits.maxSourcePixels);
    this.#received = { hash: r.staged.hash, size: r.staged.size, header };
    return r.removed;
  }

  /** Drops the received bytes unless they were stored; safe to call again. */
  async discard() {
    const staged = this.#staged;
    this.#staged = undefined;
    await staged?.discard();
  }
}

function insert(
  d: IngestDeps,
  userId: string,
  staged: StagedBlob,
  header: ProbeResult,
  inspected: InspectResult,
  input: UploadInput,
): Promise<Omit<Stored, "stripped">> {
  const now = d.now();
  const wanted = uploadPath(input.path, input.filename, header.format);
  return d.db.transaction().execute(async (trx): Promise<Omit<Stored, "stripped">> => {
    // The tenant's checks below (external id, same content, path, plan) and the blob's
    // existence hold until commit, whichever node writes beside this one. Tenant first, then
    // blob, as a removal takes them.
    await lockNames(trx, [`tenant:${userId}`]);
    await lockNames(trx, [`blob:${staged.hash}`]);
    if (input.externalId) {
      // Checked again here, inside the write transaction: two uploads racing with one
      // external id end with one image.
      const same = await live(
        trx.selectFrom("images").selectAll().where("user_id", "=", userId).where("external_id", "=", input.externalId),
        now,
      ).executeTakeFirst();
      if (same) return { image: await withPaths(trx, same), isNew: false, deduplicated: true };
    }
    // An upload that asks for a visibility joins only an image that has it: joining a public
    // image would serve the new (asked-private) path to anyone. Otherwise it is an image of
    // its own on the same blob, with the visibility asked for.
    let sameContent = trx
      .selectFrom("images")
      .selectAll()
      .where("user_id", "=", userId)
      .where("blob_hash", "=", staged.hash);
    if (input.visibility) sameContent = sameContent.where("visibility", "=", input.visibility);
    const existing = input.separate ? undefined : await live(sameContent, now).orderBy("created_at").executeTakeFirst();
    const id = input.id ?? newId(now);
    const path = input.separate
      ? { path: `${id}.${header.format}`, free: true }
      : await claimPath(trx, userId, wanted.path, existing?.id, wanted.explicit);
    if (existing) {
      if (path.free) await insertPath(trx, userId, path.path, existing.id, now);
      const image = await withPaths(trx, existing);
      if (path.free) await d.events.emit(trx, userId, "image.updated", { ...imageData(image), change: "path_added" });
      return { image, isNew: false };
    }
    // Refuses (throws) when over the plan: before the blob is committed, so nothing is kept.
    await d.metering.countUpload(trx, userId, staged.size, id);
    await trx
      .insertInto("blobs")
      .values({
        hash: staged.hash,
        size: staged.size,
        format: header.format,
        mime: header.mime,
        width: inspected.width,
        height: inspected.height,
        created_at: now,
      })
      .onConflict((oc) => oc.column("hash").doNothing())
      .execute();
    await trx
      .insertInto("images")
      .values({
        id,
        user_id: userId,
        blob_hash: staged.hash,
        original_filename: input.filename.slice(0, 255) || "image",
        sanitized_filename: path.path.slice(path.path.lastIndexOf("/") + 1),
        format: header.format,
        mime_type: header.mime,
        size: staged.size,
        width: inspected.width,
        height: inspected.height,
        visibility: input.visibility ?? "public",
        dominant_color: inspected.dominantColor,
        thumbhash: inspected.thumbhash,
        has_alpha: inspected.hasAlpha ? 1 : 0,
        frames: inspected.pages,
        namespace: input.namespace ?? null,
        metadata: JSON.stringify(input.metadata ?? {}),
        external_id: input.externalId ?? null,
        source_url: input.sourceUrl ?? null,
        expires_at: input.expiresAt ?? null,
        page_public: input.pagePublic === false ? 0 : 1,
        display_date: input.displayDate ?? null,
        signed_url: null,
        signed_url_expires_at: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await insertPath(trx, userId, path.path, id, now);
    const tags = [...new Set(input.tags ?? [])];
    if (tags.length)
      await trx
        .insertInto("image_tags")
        .values(tags.map((tag) => ({ image_id: id, tag })))
        .execute();
    const row = await trx.selectFrom("images").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    const image = { ...row, paths: [path.path], tags: tags.sort() };
    await d.events.emit(trx, userId, "image.created", imageData(image));
    return { image, isNew: true };
  });
}
