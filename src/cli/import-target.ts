import { AppError } from "../domain/errors.ts";
import { FieldErrors, parseCustom, parseTags } from "../domain/library/fields.ts";
import { stemOf } from "../domain/library/paths.ts";
import type { User } from "../domain/records.ts";
import type { AppServices } from "../services.ts";
import { type Client, describeError, postImage } from "./client.ts";

// Where `imgd import` puts images: a running server (its native API, with a key) or a data
// directory opened in this process. Both answer the same three questions: what is at a path,
// store this there, remove that path. The library itself is the import's only state.

export interface Existing {
  /** SHA-256 of the bytes, hex. */
  hash: string;
  /** The alias that holds the name (the same name with another extension counts). */
  path: string;
  /** The URL it was imported from, null when uploaded as a file. */
  sourceUrl: string | null;
}

export interface Incoming {
  path: string;
  filename: string;
  bytes?: Uint8Array;
  url?: string;
  visibility?: "public" | "private";
  tags?: string[];
  metadata?: Record<string, unknown>;
}

export interface ImportTarget {
  /** For messages: the server's URL or the data directory. */
  where: string;
  lookup(path: string): Promise<Existing | null>;
  /** `isNew` false: the bytes were there already (under another path), now aliased here. */
  store(item: Incoming): Promise<{ isNew: boolean }>;
  remove(path: string): Promise<void>;
}

/** What the target refused for this item (not an image, too large, a conflict…): final, not retried. */
export class Refused extends Error {
  override name = "Refused";
}

const sameStem = (paths: string[], path: string) =>
  paths.find((p) => p === path) ?? paths.find((p) => stemOf(p) === stemOf(path)) ?? paths[0];

/** A running server, through the native API. */
export async function remoteTarget(api: Client): Promise<ImportTarget> {
  const me: string = (await api.json("/api/v1/settings")).settings.username;
  const at = (path: string) => `/api/v1/images/path/${encodeURIComponent(me)}/${encodeURIComponent(path)}`;
  // 4xx answers are about the item; a missing key or scope, an overloaded server or a network
  // failure is about the run, and the item is tried again.
  const refusal = (status: number) => status >= 400 && status < 500 && ![401, 408, 429].includes(status);
  return {
    where: api.server,
    async lookup(path) {
      const res = await api.request(at(path));
      const body: any = await res.json().catch(() => null);
      if (res.status === 404) return null;
      if (!res.ok)
        throw refusal(res.status)
          ? new Refused(describeError(res.status, body))
          : new Error(describeError(res.status, body));
      return { hash: body.metadata.hash, path: sameStem(body.paths, path), sourceUrl: body.source_url ?? null };
    },
    async store(item) {
      const { status, body } = await postImage(api, {
        bytes: item.bytes,
        filename: item.filename,
        url: item.url,
        target: item.path,
        visibility: item.visibility,
        tags: item.tags,
        metadata: item.metadata,
      });
      if (status === 201) return { isNew: body.is_new !== false };
      throw refusal(status) ? new Refused(describeError(status, body)) : new Error(describeError(status, body));
    },
    async remove(path) {
      const res = await api.request(at(path), { method: "DELETE" });
      const body: any = await res.json().catch(() => null);
      if (!res.ok && res.status !== 404) throw new Error(describeError(res.status, body));
    },
  };
}

/** A data directory in this process, as `user` (the same use cases as the upload route). */
export function localTarget(services: AppServices, user: User, dataDir: string): ImportTarget {
  const { images, ingest, fetcher, metering } = services;
  const asRefusal = (err: unknown): never => {
    if (err instanceof AppError && err.status >= 400 && err.status < 500 && err.status !== 429)
      throw new Refused(err.message);
    throw err;
  };
  return {
    where: dataDir,
    async lookup(path) {
      const found = await images.resolvePath(user.id, path);
      return found ? { hash: found.image.blob_hash, path: found.path, sourceUrl: found.image.source_url } : null;
    },
    async store(item) {
      try {
        if (item.visibility === "private") metering.requireFeature(user, "private_images");
        const e = new FieldErrors();
        const tags = item.tags ? parseTags(item.tags, e) : undefined;
        const metadata = item.metadata ? parseCustom(item.metadata, e, false) : undefined;
        e.throwIfAny();
        const admission = await ingest.admit({ user });
        return await ingest.run(admission, async (upload) => {
          let filename = item.filename;
          if (item.url) {
            const fetched = await fetcher.open(item.url, upload.maxBytes);
            filename = fetched.filename || filename;
            await upload.receive(fetched.body);
          } else {
            const bytes = item.bytes ?? new Uint8Array();
            await upload.receive(
              (async function* () {
                yield bytes;
              })(),
            );
          }
          const stored = await upload.store({
            filename,
            path: item.path,
            visibility: item.visibility,
            tags,
            metadata,
            sourceUrl: item.url ?? null,
          });
          return { isNew: stored.isNew };
        });
      } catch (err) {
        return asRefusal(err);
      }
    },
    async remove(path) {
      await images.deletePath(user.id, path).catch((err) => {
        if (!(err instanceof AppError && err.code === "NOT_FOUND")) throw err;
      });
    },
  };
}
