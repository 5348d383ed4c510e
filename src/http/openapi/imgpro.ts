import * as v from "valibot";
import { CreateKey, NamespacesQuery } from "../imgpro/account.ts";
import { BatchDelete, BatchPatch, ListQuery } from "../imgpro/media.ts";
import * as r from "../imgpro/responses.ts";
import type { Answer, Op } from "./describe.ts";

// The img.pro dialect under /v1.

const d = v.description;
const auth = ["bearerKey", "sessionCookie"] as const;
const error: Answer = { description: "An error, in img.pro's envelope", json: r.ImgproError };
const quota = {
  "X-Monthly-Uploads-Remaining": "Uploads left this month ('unlimited' without a limit)",
  "X-Storage-Remaining": "Bytes of storage left",
};

// The fields of upload and import; the routes read them with the library's field parsers.
const fields = {
  tags: v.optional(v.pipe(v.string(), d("Comma-separated tags (or a JSON array)"))),
  namespace: v.optional(v.pipe(v.string(), d("2–64 lowercase letters, digits and hyphens"))),
  public: v.optional(v.pipe(v.string(), d("true: the item gets a public viewer page"))),
  ttl: v.optional(v.pipe(v.string(), d("Seconds (or 1h, 7d) until the item expires"))),
  name: v.optional(v.string()),
  date: v.optional(v.pipe(v.string(), d("A display date, YYYY-MM-DD or RFC 3339"))),
  external_id: v.optional(v.pipe(v.string(), d("Your id; a second import with it answers the first item"))),
};
const UploadForm = v.object({ file: v.pipe(v.string(), d("The image (binary)")), ...fields });
const ImportBody = v.object({ url: v.pipe(v.string(), d("An http(s) URL of an image")), ...fields });
const MediaPatch = v.pipe(
  v.looseObject({
    name: v.optional(v.string()),
    date: v.optional(v.nullable(v.string())),
    tags: v.optional(v.nullable(v.array(v.string()))),
    public: v.optional(v.boolean()),
    namespace: v.optional(v.nullable(v.string())),
    external_id: v.optional(v.nullable(v.string())),
  }),
  d("Fields to change; any other field is custom metadata (null removes it)"),
);

const media = { id: "The media item's id" };

export const imgproOps: Op[] = [
  {
    method: "post",
    path: "/v1/upload",
    tag: "img.pro",
    operationId: "imgproUpload",
    summary: "Upload a file",
    description: "Without a key, an anonymous upload when the server allows them (kept for a limited time).",
    security: [...auth],
    body: { kind: "multipart", schema: UploadForm, required: true },
    responses: {
      200: { description: "The same bytes were uploaded already: the existing item", json: r.MediaItem },
      201: { description: "Stored", json: r.MediaItem, headers: quota },
      default: error,
    },
  },
  {
    method: "post",
    path: "/v1/import",
    tag: "img.pro",
    operationId: "imgproImport",
    summary: "Import an image from a URL",
    description: "The URL is fetched by the server (http(s) only, no private addresses).",
    security: [...auth],
    body: { kind: "json", schema: ImportBody, required: true },
    responses: {
      200: { description: "Known already (same bytes or external_id)", json: r.MediaItem },
      201: { description: "Stored", json: r.MediaItem },
      default: error,
    },
  },
  {
    method: "post",
    path: "/v1/keys",
    tag: "img.pro",
    operationId: "imgproCreateKey",
    summary: "Create an account and key by email",
    description: "Only where registration is open.",
    security: [...auth],
    body: { kind: "json", schema: CreateKey, required: true },
    responses: { 201: { description: "The new key", json: r.KeyCreated }, default: error },
  },
  {
    method: "get",
    path: "/v1/usage",
    tag: "img.pro",
    operationId: "imgproUsage",
    summary: "This month's uploads and the storage used",
    security: [...auth],
    responses: { 200: { description: "Usage", json: r.ImgproUsage }, default: error },
  },
  {
    method: "get",
    path: "/v1/namespaces",
    tag: "img.pro",
    operationId: "imgproNamespaces",
    summary: "Namespaces in use, largest first",
    security: [...auth],
    query: NamespacesQuery,
    responses: { 200: { description: "Namespaces", json: r.Namespaces }, default: error },
  },
  {
    method: "patch",
    path: "/v1/media/batch",
    tag: "img.pro",
    operationId: "imgproBatchTags",
    summary: "Add, remove or set tags on many items",
    security: [...auth],
    body: { kind: "json", schema: BatchPatch, required: true },
    responses: { 200: { description: "How many changed", json: r.BatchUpdated }, default: error },
  },
  {
    method: "delete",
    path: "/v1/media/batch",
    tag: "img.pro",
    operationId: "imgproBatchDelete",
    summary: "Delete many items, by ids or a whole namespace",
    security: [...auth],
    body: { kind: "json", schema: BatchDelete, required: true },
    responses: { 200: { description: "How many were deleted", json: r.BatchDeleted }, default: error },
  },
  {
    method: "get",
    path: "/v1/media",
    tag: "img.pro",
    operationId: "imgproListMedia",
    summary: "List media items",
    description: "Newest first; pass next_cursor back as cursor for the next page.",
    security: [...auth],
    query: ListQuery,
    responses: { 200: { description: "A page", json: r.MediaList }, default: error },
  },
  {
    method: "get",
    path: "/v1/media/{id}",
    tag: "img.pro",
    operationId: "imgproGetMedia",
    summary: "A media item",
    description: "Without the owner's key, only public items.",
    security: [...auth],
    params: media,
    responses: { 200: { description: "The item", json: r.MediaItem }, default: error },
  },
  {
    method: "patch",
    path: "/v1/media/{id}",
    tag: "img.pro",
    operationId: "imgproUpdateMedia",
    summary: "Change a media item's fields",
    security: [...auth],
    params: media,
    body: { kind: "json", schema: MediaPatch, required: true },
    responses: { 200: { description: "The changed item", json: r.MediaItem }, default: error },
  },
  {
    method: "delete",
    path: "/v1/media/{id}",
    tag: "img.pro",
    operationId: "imgproDeleteMedia",
    summary: "Delete a media item",
    security: [...auth],
    params: media,
    responses: { 204: { description: "Deleted" }, default: error },
  },
  {
    method: "get",
    path: "/p/{id}",
    tag: "img.pro",
    operationId: "imgproViewerPage",
    summary: "The public viewer page of a media item",
    params: media,
    responses: {
      200: { description: "An HTML page with Open Graph tags", media: "text/html" },
      404: { description: "Not found or not public", media: "text/html" },
    },
  },
];

export const imgproSchemas = { ImgproError: r.ImgproError, MediaItem: r.MediaItem, MediaList: r.MediaList };
