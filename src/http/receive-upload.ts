import type { Context } from "hono";
import { AppError } from "../domain/errors.ts";
import type { Ingest, Upload, Uploader } from "../domain/ingest/ingest.ts";
import { boundaryOf, parseMultipart, readField } from "./multipart.ts";
import { markBodyRead } from "./validate.ts";

// Every multipart upload route (native POST /api/v1/images, img.pro POST /v1/upload) takes its
// body here: admitted before a byte is read, the `file` part streamed into the upload, the
// other parts read as text fields, and the body read to its end before any refusal of what it
// held, so that a refusal keeps the connection usable.

export interface ReceivedForm {
  /** Holds the received file; the caller stores it and discards it in a `finally`. */
  upload: Upload;
  /** The text fields, each given at most once. */
  fields: Record<string, string>;
  /** The file part's filename ("" when it has none). */
  filename: string;
}

export interface ReceiveOptions {
  /** Who uploads, and the dialect's own size limit if it has one. */
  uploader: Uploader;
  /** What a request that is not multipart/form-data is told (names the dialect's field). */
  notMultipart: string;
  /** The most bytes one text field may have. */
  maxFieldBytes?: number;
}

/** Multipart framing allowed on top of the file when the declared length is checked. */
const FORM_OVERHEAD = 64 * 1024;

export async function receiveUpload(c: Context, ingest: Ingest, opts: ReceiveOptions): Promise<ReceivedForm> {
  const boundary = boundaryOf(c.req.header("content-type"));
  const body = c.req.raw.body;
  if (!boundary || !body) throw new AppError("VALIDATION_ERROR", opts.notMultipart, { field: "file" });
  // Refused before any of the body is read.
  const admission = await ingest.admit(opts.uploader, {
    declaredBytes: Number(c.req.header("content-length") ?? NaN),
    overhead: FORM_OVERHEAD,
  });
  const upload = ingest.begin(admission);
  try {
    let filename = "";
    const fields = new Map<string, string>();
    // A field given twice is refused once the body has been read (the parser skips the rest of
    // an unread part), so the answer does not cut the connection.
    let repeated: string | undefined;
    for await (const part of parseMultipart(body, boundary)) {
      if (fields.has(part.name) || (part.name === "file" && upload.received)) repeated ??= part.name;
      else if (part.name === "file") {
        filename = part.filename ?? "";
        await upload.receive(part.body);
      } else fields.set(part.name, await readField(part, opts.maxFieldBytes));
    }
    markBodyRead(c.req.raw);
    if (repeated === "file")
      throw new AppError("VALIDATION_ERROR", "file: send one file per upload", { field: "file" });
    if (repeated !== undefined)
      throw new AppError("VALIDATION_ERROR", `${repeated}: given more than once`, { field: repeated });
    return { upload, fields: Object.fromEntries(fields), filename };
  } catch (err) {
    await upload.discard();
    throw err;
  }
}

/** The refusal of a form without its file, in the words both dialects use. */
export function requireFile(upload: Upload) {
  if (!upload.received) throw new AppError("VALIDATION_ERROR", "file: is required", { field: "file" });
}
