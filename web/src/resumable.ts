// Large files go through tus (POST /api/v1/uploads/tus, then 5 MB PATCHes), so a dropped
// connection costs the part in flight, not the whole file. Uppy runs headless: no Uppy UI,
// the upload list of pages/upload.ts shows the progress. The session cookie goes along as on
// every same-origin request; the writes carry the CSRF token as the API client's requests do.
import Uppy from "@uppy/core";
import Tus from "@uppy/tus";
import { ApiError, BASE, csrfToken } from "./api.ts";

/** Above this, a file goes through tus; below it, one multipart request is quicker. */
export const RESUMABLE_FROM_BYTES = 5 * 1024 * 1024;
const CHUNK_BYTES = 5 * 1024 * 1024;
// Retries come soon (a dropped connection is usually back at once), then back off for a minute.
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10_000, 20_000, 30_000];

export interface ResumableFields {
  folder?: string;
  visibility: "public" | "private";
  tags?: string[];
}

/** The server's JSON error as the API client raises it (a network failure is status 0). */
function refusal(status: number, text: string, fallback: string): ApiError {
  let error: { code?: string; message?: string } | undefined;
  try {
    error = JSON.parse(text)?.error;
  } catch {}
  if (!status) return new ApiError(fallback, 0, "NETWORK", null);
  return new ApiError(error?.message ?? fallback, status, error?.code ?? "HTTP_ERROR", error ?? null);
}

/** Sends one file by tus; resolves once the server has stored it as an image. */
export function uploadResumable(file: File, fields: ResumableFields, onProgress: (fraction: number) => void): Promise<void> {
  const uppy = new Uppy({ autoProceed: false, allowMultipleUploadBatches: false });
  uppy.use(Tus, {
    endpoint: `${location.origin}${BASE}/api/v1/uploads/tus`,
    chunkSize: CHUNK_BYTES,
    retryDelays: RETRY_DELAYS,
    limit: 1,
    removeFingerprintOnSuccess: true,
    allowedMetaFields: ["filename", "folder", "visibility", "tags"],
    headers: (): Record<string, string> => {
      const token = csrfToken();
      return token ? { "X-CSRF-Token": token } : {};
    },
  });
  uppy.addFile({
    name: file.name,
    type: file.type,
    data: file,
    meta: {
      filename: file.name,
      visibility: fields.visibility,
      ...(fields.folder ? { folder: fields.folder } : {}),
      ...(fields.tags?.length ? { tags: fields.tags.join(",") } : {}),
    },
  });
  let failure: ApiError | undefined;
  uppy.on("upload-progress", (_f, p) => {
    if (p.bytesTotal) onProgress((p.bytesUploaded ?? 0) / p.bytesTotal);
  });
  uppy.on("upload-error", (_f, err, response) => {
    const xhr = (response?.body as { xhr?: XMLHttpRequest } | undefined)?.xhr;
    failure = refusal(response?.status ?? 0, xhr?.responseText ?? "", err.message);
  });
  return uppy
    .upload()
    .then((result) => {
      if (!result?.successful?.length)
        throw failure ?? new ApiError("The upload did not finish", 0, "NETWORK", null);
    })
    .finally(() => uppy.destroy());
}
