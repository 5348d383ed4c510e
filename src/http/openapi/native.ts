import * as v from "valibot";
import { FITS, NativeParams } from "../../domain/delivery/native.ts";
import { ListQuery, SearchQuery, SignedUrlBody, UploadFields, VisibilityBody } from "../native/images.ts";
import { CreateKey } from "../native/keys.ts";
import * as r from "../native/responses.ts";
import { STRIP_MODES } from "../../../codecs/metadata/strip.ts";
import type { Op } from "./describe.ts";
import { accountOps } from "./native-account.ts";
import { uploadOps } from "./native-uploads.ts";
import { webhookOps } from "./native-webhooks.ts";
import { auth, error, ok } from "./native-common.ts";

// The native (img-src style) dialect: /api/v1/…, /health and delivery at /i/{username}/{path}.

const paging = {
  "X-Total-Count": "Number of matching images",
  "X-Page": "This page, counted from 1",
  "X-Limit": "Page size",
};

// Swagger UI's "Try it out" fills every form field with a sample ("string", an enum's first
// value) unless the schema gives one: the samples here are what leaving a field out means.
const blank = v.metadata<string, { example: string }>({ example: "" });

const UploadForm = v.object({
  file: v.optional(v.pipe(v.string(), v.description("The image (binary); or give url instead"))),
  ...UploadFields.entries,
  url: v.optional(
    v.pipe(
      v.string(),
      v.description(
        "Instead of a file: an http(s) URL the server fetches (public addresses only, unless IMGD_IMPORT_ALLOW_NETWORKS allows more; IMGD_MAX_UPLOAD_BYTES and IMGD_IMPORT_TIMEOUT_MS apply)",
      ),
      blank,
    ),
  ),
  tags: v.optional(v.pipe(v.string(), v.description("Tags, comma-separated (at most 10)"), blank)),
  metadata: v.optional(
    v.pipe(
      v.string(),
      v.description('Custom fields as a JSON object of strings, numbers or booleans ({"alt": "…"})'),
      blank,
    ),
  ),
  strip: v.optional(
    v.pipe(
      v.picklist(STRIP_MODES),
      v.description(
        "What metadata the stored original loses: gps (the default: the EXIF position), all (all but the orientation and colour profile) or none; default: the tenant's strip_metadata",
      ),
      v.metadata({ default: "gps" }),
    ),
  ),
});

const opt = (text: string) => v.optional(v.pipe(v.string(), v.description(text)));

/** What the native delivery route reads: its options, a preset, a signature, imgix's names, ?placeholder. */
const DeliveryQuery = v.object({
  ...NativeParams.entries,
  fit: v.optional(
    v.pipe(
      v.picklist([...FITS, "clip", "max", "crop", "min", "scale"]),
      v.description(
        "cover, contain, fill or scale-down; imgix's clip, max, crop, min and scale make the query an imgix one",
      ),
    ),
  ),
  f: opt("Same as format (give one of the two); f=auto negotiates the format from Accept, as the extension .auto does"),
  "p:name": opt("A preset by name, e.g. ?p:thumbnail"),
  token: opt("Signature of a signed URL (private images): POST /api/v1/images/{id}/signed-url makes one"),
  expires: opt("Unix seconds the signed URL expires at"),
  sig: opt("Same as token (img-src's name); give one of the two"),
  exp: opt("Same as expires (img-src's name); give one of the two"),
  placeholder: opt(
    "No value: the image's blurred preview (its ThumbHash) as a tiny PNG instead of the image; only a signature may go with it",
  ),
  fm: opt("imgix: the output format (jpg, pjpg, png, webp, avif, gif)"),
  auto: opt(
    "imgix: format (negotiate from Accept) and/or compress (accepted; quality stays the tenant's), comma-separated",
  ),
  crop: opt("imgix: with fit=crop, where to crop: top, bottom, left, right (comma-separated) or entropy"),
  dpr: opt("imgix: device pixel ratio, multiplies w and h"),
  blur: opt("imgix: blur strength 0..2000"),
  sharp: opt("imgix: sharpen strength 0..100"),
});

const { path: signedPath, options: signedOptions } = SignedUrlBody.entries;
const SignedUrlRequest = v.object({
  ...SignedUrlBody.entries,
  path: v.optional(
    v.pipe(
      signedPath.wrapped,
      v.description(
        "One of the image's paths, with any extension (photo.webp, photo.auto): the variant's format. Default: its first path",
      ),
    ),
  ),
  dialect: v.optional(
    v.pipe(
      v.picklist(["native", "imgwire"]),
      v.description(
        "Which URL to sign: native (/i/…, the default) or imgwire (the Imgwire CDN, whose path may end in @preset)",
      ),
    ),
  ),
  options: v.optional(
    v.pipe(
      signedOptions.wrapped,
      v.description(
        'The URL options the signature covers: an object of native or imgix options ({"w": 200, "fit": "cover"}), or a query string ("w=200&fit=cover", "placeholder"); with "dialect": "imgwire", Imgwire URL parameters',
      ),
    ),
  ),
});

const image = { id: "The image's id" };

export const nativeOps: Op[] = [
  {
    method: "get",
    path: "/health",
    tag: "operator",
    operationId: "health",
    summary: "Liveness",
    description:
      "Says what the node runs on (database: sqlite or postgres; storage: filesystem or s3) without probing them.",
    responses: { 200: ok("The server is up", r.Health) },
  },
  {
    method: "get",
    path: "/ready",
    tag: "operator",
    operationId: "ready",
    summary: "Readiness, for a load balancer",
    description:
      "Probes the database and the storage: 503 while either does not answer, so traffic goes to the nodes that can serve it.",
    responses: {
      200: ok("Both answer", r.Ready, { headers: { "Cache-Control": "no-store" } }),
      503: ok("The database or the storage does not answer (see which, and why)", r.Ready, {
        headers: { "Cache-Control": "no-store" },
      }),
      default: error,
    },
  },
  {
    method: "get",
    path: "/i/{username}/{path}",
    route: "/i/:username/*",
    tag: "native",
    operationId: "deliverImage",
    summary: "Deliver an image, transformed",
    description:
      "The extension picks the output format (.webp, .avif, .jpg, .png, .jxl; the stored path's own extension gives the original format; " +
      ".auto, f=auto or format=auto negotiate it from Accept and the tenant's delivery_formats, and the answer says Vary: Accept). " +
      "Options resize, crop and re-encode; equal requests share one cached variant. imgix's parameters (fm, auto, crop, dpr, blur, " +
      "sharp, and fits clip, max, crop, min, scale) are read too, not mixed with the native ones. ?placeholder answers the blurred " +
      "preview as a PNG. Private images need a signed URL (token and expires, or sig and exp) covering the path and the options, or the owner's key or session. " +
      "Under IMGD_TRANSFORMS or the tenant's transforms setting, unsigned URLs of anyone but the owner get only the original (signed) or also presets, p:name and size (presets); else 403. " +
      "With IMGD_CDN_HOST set, requests for that host serve /{username}/{path} exactly as this route (img-src's host-based path).",
    params: { username: "The owner's username", path: "The image's path, with an extension" },
    query: DeliveryQuery,
    responses: {
      200: {
        description: "The image",
        media: "image/*",
        headers: {
          ETag: "The variant's tag",
          "Cache-Control": "public, max-age=31536000, immutable (private images: private, until the signature expires)",
          Vary: "Accept, when the format was negotiated",
          "X-Cache": "HIT, MISS or ORIGINAL",
        },
      },
      304: { description: "Not modified (If-None-Match)" },
      default: error,
    },
  },
  {
    method: "head",
    path: "/i/{username}/{path}",
    route: "/i/:username/*",
    tag: "native",
    operationId: "deliverImageHead",
    summary: "Delivery headers only",
    params: { username: "The owner's username", path: "The image's path, with an extension" },
    query: DeliveryQuery,
    responses: { 200: { description: "The image's headers" }, default: { description: "An error (no body)" } },
  },
  {
    method: "post",
    path: "/api/v1/images",
    tag: "native",
    operationId: "uploadImage",
    summary: "Upload an image",
    description:
      "multipart/form-data with the image in `file`. The same bytes again answer 201 with is_new: false and add a path alias.",
    security: [...auth],
    body: { kind: "multipart", schema: UploadForm, required: true },
    responses: { 201: ok("Stored", r.UploadedImage), default: error },
  },
  {
    method: "get",
    path: "/api/v1/images",
    tag: "native",
    operationId: "listImages",
    summary: "List images",
    description: "Newest first unless `sort` says otherwise; page with offset or page. `path` lists one folder.",
    security: [...auth],
    query: ListQuery,
    responses: { 200: ok("A page of images", r.ImageList, { headers: paging }), default: error },
  },
  {
    method: "get",
    path: "/api/v1/images/search",
    tag: "native",
    operationId: "searchImages",
    summary: "Search images by name and path",
    security: [...auth],
    query: SearchQuery,
    responses: { 200: ok("Matches", r.ImageSearch), default: error },
  },
  {
    method: "get",
    path: "/api/v1/images/{id}",
    tag: "native",
    operationId: "getImage",
    summary: "An image's metadata and URLs",
    security: [...auth],
    params: image,
    responses: { 200: ok("The image", r.ImageMetadata), default: error },
  },
  {
    method: "delete",
    path: "/api/v1/images/{id}",
    tag: "native",
    operationId: "deleteImage",
    summary: "Delete an image and all its paths",
    security: [...auth],
    params: image,
    responses: { 200: ok("Deleted", r.ImageDeleted), default: error },
  },
  {
    method: "post",
    path: "/api/v1/images/{id}/purge",
    tag: "native",
    operationId: "purgeImage",
    summary: "Drop every cached variant of an image, here, on every node and on the CDN",
    description:
      "Cached variants go (storage, memory, every node); the image's ETags change, so the next answer for any of its URLs is new. " +
      "When a CDN purge hook is set (IMGD_PURGE), it is told the image's public URLs.",
    security: [...auth],
    params: image,
    responses: { 200: ok("Purged", r.ImagePurged), default: error },
  },
  {
    method: "post",
    path: "/api/v1/images/{id}/signed-url",
    tag: "native",
    operationId: "createSignedUrl",
    summary: "A time-limited URL for a private image, of any variant",
    description:
      "The signature covers the path (so the format) and the options in a canonical order; any change, or the expiry, is a 403. " +
      "Options a delivery would refuse are refused here.",
    security: [...auth],
    params: image,
    body: { kind: "json", schema: SignedUrlRequest },
    responses: { 200: ok("The signed URL", r.SignedUrl), default: error },
  },
  ...(["put", "patch"] as const).map(
    (method): Op => ({
      method,
      path: "/api/v1/images/{id}/visibility",
      tag: "native",
      operationId: method === "put" ? "setVisibility" : "patchVisibility",
      summary: "Make an image public or private",
      security: [...auth],
      params: image,
      body: { kind: "json", schema: VisibilityBody, required: true },
      responses: { 200: ok("Changed", r.VisibilityChanged), default: error },
    }),
  ),
  {
    method: "get",
    path: "/api/v1/images/path/{username}/{filepath}",
    route: "/api/v1/images/path/:username/*",
    tag: "native",
    operationId: "getImageByPath",
    summary: "The image a path holds",
    description:
      "The path, or the same name with another extension (a.jpg finds a.png: one name, one image). 404 when no image holds it. The path may arrive percent-encoded whole.",
    security: [...auth],
    params: { username: "Your username", filepath: "The path to look up" },
    responses: { 200: ok("Its metadata (metadata.hash: the SHA-256 of its bytes)", r.ImageMetadata), default: error },
  },
  {
    method: "delete",
    path: "/api/v1/images/path/{username}/{filepath}",
    route: "/api/v1/images/path/:username/*",
    tag: "native",
    operationId: "deleteImagePath",
    summary: "Remove one path alias",
    description: "The image goes with its last path. The path may arrive percent-encoded whole (a%2Fb.jpg).",
    security: [...auth],
    params: { username: "Your username", filepath: "The path to remove" },
    responses: { 200: ok("Removed", r.PathDeleted), default: error },
  },
  {
    method: "get",
    path: "/api/v1/settings/api-keys",
    tag: "native",
    operationId: "listApiKeys",
    summary: "List API keys",
    security: [...auth],
    responses: { 200: ok("Keys (no secrets)", r.ApiKeyList), default: error },
  },
  {
    method: "post",
    path: "/api/v1/settings/api-keys",
    tag: "native",
    operationId: "createApiKey",
    summary: "Create an API key",
    description: "The secret is in the answer once; only its hash is kept.",
    security: [...auth],
    body: { kind: "json", schema: CreateKey, required: true },
    responses: { 201: ok("Created", r.ApiKeyCreated), default: error },
  },
  {
    method: "delete",
    path: "/api/v1/settings/api-keys/{id}",
    tag: "native",
    operationId: "deleteApiKey",
    summary: "Revoke an API key",
    security: [...auth],
    params: { id: "The key's id" },
    responses: { 200: ok("Revoked", r.Success), default: error },
  },
  ...uploadOps,
  ...accountOps,
  ...webhookOps,
];

/** Response schemas worth a name in components.schemas. */
export const nativeSchemas = {
  NativeError: r.NativeError,
  UploadedImage: r.UploadedImage,
  ImageListItem: r.ImageListItem,
  ImageList: r.ImageList,
  ImageMetadata: r.ImageMetadata,
  ApiKey: r.ApiKey,
  Preset: r.Preset,
  Settings: r.Settings,
  Usage: r.Usage,
  AdminUser: r.AdminUser,
  Webhook: r.Webhook,
  WebhookDelivery: r.WebhookDelivery,
};
