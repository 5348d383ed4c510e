import type { Answer, Op } from "./describe.ts";
import { auth, error } from "./native-common.ts";

// The native dialect's resumable uploads: the tus 1.0 protocol at /api/v1/uploads/tus.

const tus = { "Tus-Resumable": "1.0.0 (required; another version is 412)" };
const upload = { id: "The upload's id (the last segment of the creation's Location)" };
const where: Record<string, string> = {
  "Tus-Resumable": "1.0.0",
  "Upload-Offset": "How many bytes the server has",
  "Upload-Expires": "When the upload is removed if not finished (IMGD_UPLOAD_EXPIRY after its creation)",
};
const finished: Record<string, string> = {
  "Imgd-Image-Id": "Once the upload is whole: the image it became",
  "Imgd-Image-Url": "Once the upload is whole: the image's URL",
};
const refused: Answer = {
  description:
    "An error, in the native envelope: 409 another offset, 410 expired, 413 over the limit, 415 not " +
    "application/offset+octet-stream, 460 checksum mismatch",
  json: error.json,
};

export const uploadOps: Op[] = [
  {
    method: "options",
    path: "/api/v1/uploads/tus",
    route: "/api/v1/uploads/tus/*",
    tag: "native",
    operationId: "tusOptions",
    summary: "tus: the protocol's version, extensions and limits",
    description: "Needs no key.",
    responses: {
      204: {
        description: "What the server supports",
        headers: {
          "Tus-Version": "1.0.0",
          "Tus-Extension": "creation,creation-with-upload,expiration,termination,checksum",
          "Tus-Max-Size": "IMGD_MAX_UPLOAD_BYTES (a plan may allow less)",
          "Tus-Checksum-Algorithm": "sha256",
        },
      },
    },
  },
  {
    method: "post",
    path: "/api/v1/uploads/tus",
    tag: "native",
    operationId: "tusCreate",
    summary: "tus: create a resumable upload",
    description:
      "Upload-Length is checked against the smaller of the plan's upload limit and IMGD_MAX_UPLOAD_BYTES (413, " +
      "nothing stored). Upload-Metadata (base64 values) may carry `filename`, `path` (or `target_path`), " +
      "`folder`, `visibility` and `tags`, checked as the multipart upload checks them. With Content-Type " +
      "application/offset+octet-stream the body is the first part (creation-with-upload).",
    security: [...auth],
    headers: {
      ...tus,
      "Upload-Length": "The file's size in bytes (required)",
      "Upload-Metadata": "key base64value pairs, comma-separated",
      "Upload-Checksum": "sha256 <base64 digest> of the body, if it carries a part",
    },
    body: { kind: "binary", media: "application/offset+octet-stream", description: "The first part (optional)" },
    responses: {
      201: { description: "Created", headers: { ...where, ...finished, Location: "The upload's URL (a path)" } },
      default: refused,
    },
  },
  {
    method: "head",
    path: "/api/v1/uploads/tus/{id}",
    tag: "native",
    operationId: "tusOffset",
    summary: "tus: how far an upload has come",
    description: "Another tenant's upload, or one swept, is 404.",
    security: [...auth],
    params: upload,
    headers: tus,
    responses: {
      200: {
        description: "The upload's state",
        headers: { ...where, ...finished, "Upload-Length": "The file's size", "Upload-Metadata": "As sent" },
      },
      default: refused,
    },
  },
  {
    method: "get",
    path: "/api/v1/uploads/tus/{id}",
    tag: "native",
    operationId: "tusUpload",
    summary: "tus: an upload's state (the HEAD answer, for clients that cannot send HEAD)",
    security: [...auth],
    params: upload,
    headers: tus,
    responses: {
      200: { description: "The upload's state (no body)", headers: { ...where, ...finished } },
      default: refused,
    },
  },
  {
    method: "patch",
    path: "/api/v1/uploads/tus/{id}",
    tag: "native",
    operationId: "tusPatch",
    summary: "tus: send the next part",
    description:
      "The part at Upload-Offset, kept whole or not at all. The part that completes the upload stores the image " +
      "through the same checks as POST /api/v1/images; a file that is not an image is refused and nothing is kept.",
    security: [...auth],
    params: upload,
    headers: {
      ...tus,
      "Upload-Offset": "Where this part starts (required; the upload's offset, or 409)",
      "Upload-Checksum": "sha256 <base64 digest> of this part (a mismatch is 460 and the part is dropped)",
    },
    body: { kind: "binary", media: "application/offset+octet-stream", required: true },
    responses: { 204: { description: "Kept", headers: { ...where, ...finished } }, default: refused },
  },
  {
    method: "delete",
    path: "/api/v1/uploads/tus/{id}",
    tag: "native",
    operationId: "tusTerminate",
    summary: "tus: abandon an upload and remove its parts",
    description: "An image it already became stays.",
    security: [...auth],
    params: upload,
    headers: tus,
    responses: { 204: { description: "Removed", headers: { "Tus-Resumable": "1.0.0" } }, default: refused },
  },
];
