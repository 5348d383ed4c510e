import * as v from "valibot";
import { KeyCreate, KeyListQuery, KeyUpdate, Hostname, NameBody, Pattern } from "../imgwire/account.ts";
import { PageQuery } from "../imgwire/context.ts";
import { IdList, StandardUpload, UploadViaUrl } from "../imgwire/images.ts";
import * as r from "../imgwire/responses.ts";
import { MetricsQuerySchema } from "../native/metrics.ts";
import { MetricsDatasets, MetricsStats } from "../native/responses.ts";
import type { Answer, Op } from "./describe.ts";
import { imgwireCdnQuery } from "./imgwire-params.ts";

// The Imgwire dialect, at its mount (/imgwire by default; the document follows the config).
// Paths are those of Imgwire's own document, list routes with their trailing slash.

export const IMGWIRE_MOUNT = "/imgwire";
const M = IMGWIRE_MOUNT;
const API = `${M}/api/v1`;
const server = ["bearerKey"] as const;
const error: Answer = { description: "An error, in Imgwire's words", json: r.ImgwireError };
const ok = (description: string, json: v.GenericSchema): Answer => ({ description, json });
const paging = {
  "X-Total-Count": "Number of items",
  "X-Page": "This page",
  "X-Limit": "Page size",
  "X-Next-Page": "The next page, if any",
  "X-Prev-Page": "The previous page, if any",
};
const list = (description: string, item: v.GenericSchema): Answer => ({
  description,
  json: v.array(item),
  headers: paging,
});

/** GET list, POST create, GET/PATCH/DELETE one: the shape of most of Imgwire's resources. */
function crud(
  name: string,
  plural: string,
  noun: string,
  id: string,
  item: v.GenericSchema,
  create: v.GenericSchema,
  update: v.GenericSchema,
  query: v.GenericSchema = PageQuery,
): Op[] {
  const base = `${API}/${plural}`;
  const one = `${base}/{${id}}`;
  const params = { [id]: `The ${noun}'s id` };
  const common = { tag: "Imgwire" as const, security: [...server] };
  return [
    {
      ...common,
      method: "get",
      path: `${base}/`,
      route: base,
      operationId: `imgwireList${name}s`,
      summary: `List ${noun}s`,
      query,
      responses: { 200: list(`A page of ${noun}s`, item), default: error },
    },
    {
      ...common,
      method: "post",
      path: `${base}/`,
      route: base,
      operationId: `imgwireCreate${name}`,
      summary: `Create a ${noun}`,
      body: { kind: "json", schema: create, required: true },
      responses: { 200: ok("Created", item), default: error },
    },
    {
      ...common,
      method: "get",
      path: one,
      operationId: `imgwireGet${name}`,
      summary: `A ${noun}`,
      params,
      responses: { 200: ok(`The ${noun}`, item), default: error },
    },
    {
      ...common,
      method: "patch",
      path: one,
      operationId: `imgwireUpdate${name}`,
      summary: `Change a ${noun}`,
      params,
      body: { kind: "json", schema: update, required: true },
      responses: { 200: ok("Changed", item), default: error },
    },
    {
      ...common,
      method: "delete",
      path: one,
      operationId: `imgwireDelete${name}`,
      summary: `Delete a ${noun}`,
      params,
      responses: { 200: ok("Deleted", r.Detail), default: error },
    },
  ];
}

const CdnQuery = imgwireCdnQuery();

export const imgwireOps: Op[] = [
  {
    method: "get",
    path: `${M}/health`,
    tag: "Imgwire",
    operationId: "imgwireHealth",
    summary: "Liveness",
    responses: { 200: ok("Up", v.object({ status: v.string() })) },
  },
  {
    method: "get",
    path: `${API}/images/`,
    route: `${API}/images`,
    tag: "Imgwire",
    operationId: "imgwireListImages",
    summary: "List images",
    security: [...server],
    query: PageQuery,
    responses: { 200: list("A page of images", r.Image), default: error },
  },
  {
    method: "post",
    path: `${API}/images/standard_upload`,
    tag: "Imgwire",
    operationId: "imgwireStandardUpload",
    summary: "Start an upload: an image record and a signed URL to PUT the bytes to",
    description: "Client keys may call this (with an upload_token unless the key allows unsigned uploads).",
    security: ["bearerKey", "clientKey"],
    query: v.object({ upload_token: v.optional(v.string()) }),
    body: { kind: "json", schema: StandardUpload, required: true },
    responses: { 200: ok("The pending image and its upload URL", r.StandardUploadAnswer), default: error },
  },
  {
    method: "post",
    path: `${API}/images/upload_via_url`,
    tag: "Imgwire",
    operationId: "imgwireUploadViaUrl",
    summary: "Import an image from a URL",
    security: [...server],
    body: { kind: "json", schema: UploadViaUrl, required: true },
    responses: { 200: ok("The image (PROCESSING until fetched)", r.Image), default: error },
  },
  {
    method: "post",
    path: `${API}/images/token`,
    tag: "Imgwire",
    operationId: "imgwireUploadToken",
    summary: "A one-time upload token for a client",
    security: [...server],
    responses: { 200: ok("The token", r.UploadToken), default: error },
  },
  {
    method: "post",
    path: `${API}/images/downloads`,
    tag: "Imgwire",
    operationId: "imgwireCreateDownload",
    summary: "Start a ZIP of many images",
    security: [...server],
    body: { kind: "json", schema: IdList, required: true },
    responses: { 200: ok("The job", r.DownloadJob), default: error },
  },
  {
    method: "get",
    path: `${API}/images/downloads/{image_download_job_id}`,
    tag: "Imgwire",
    operationId: "imgwireGetDownload",
    summary: "A ZIP job; download_url once READY",
    security: [...server],
    params: { image_download_job_id: "The job's id" },
    responses: { 200: ok("The job", r.DownloadJob), default: error },
  },
  {
    method: "post",
    path: `${API}/images/bulk_delete`,
    tag: "Imgwire",
    operationId: "imgwireBulkDelete",
    summary: "Delete many images",
    security: [...server],
    body: { kind: "json", schema: IdList, required: true },
    responses: { 200: ok("Deleted", r.Detail), default: error },
  },
  {
    method: "get",
    path: `${API}/images/{image_id}`,
    tag: "Imgwire",
    operationId: "imgwireGetImage",
    summary: "An image",
    description: "Client keys may call this.",
    security: ["bearerKey", "clientKey"],
    params: { image_id: "The image's id (a UUID)" },
    responses: { 200: ok("The image", r.Image), default: error },
  },
  {
    method: "delete",
    path: `${API}/images/{image_id}`,
    tag: "Imgwire",
    operationId: "imgwireDeleteImage",
    summary: "Delete an image",
    security: [...server],
    params: { image_id: "The image's id (a UUID)" },
    responses: { 200: ok("Deleted", r.Detail), default: error },
  },
  ...crud("ApiKey", "api_keys", "API key", "api_key_id", r.ApiKey, KeyCreate, KeyUpdate, KeyListQuery),
  ...crud("Environment", "environments", "environment", "environment_id", r.Environment, NameBody, NameBody),
  ...crud("CorsOrigin", "cors_origins", "CORS origin", "cors_origin_id", r.CorsOrigin, Pattern, Pattern),
  ...(
    [
      ["get", "imgwireGetCustomDomain", "The custom domain", undefined, r.CustomDomain],
      ["post", "imgwireCreateCustomDomain", "Connect a custom domain", Hostname, r.CustomDomain],
      ["delete", "imgwireDeleteCustomDomain", "Disconnect the custom domain", undefined, r.Detail],
    ] as const
  ).map(
    ([method, operationId, summary, body, answer]): Op => ({
      method,
      path: `${API}/custom_domain/`,
      route: `${API}/custom_domain`,
      tag: "Imgwire",
      operationId,
      summary,
      security: [...server],
      ...(body ? { body: { kind: "json" as const, schema: body, required: true } } : {}),
      responses: { 200: ok(summary, answer), default: error },
    }),
  ),
  {
    method: "post",
    path: `${API}/custom_domain/test_connection`,
    tag: "Imgwire",
    operationId: "imgwireTestCustomDomain",
    summary: "Check the custom domain's proof now",
    description:
      "CONNECTED once the name publishes this environment's token: a DNS TXT record named dcv_cname_record with the value dcv_cname_value, or that value as the body of http://<hostname>/.well-known/imgd-challenge (served by your own server; imgd never answers that path). Names imgd answers as itself (its public URL's host, localhost, loopback and listening addresses, the CDN host) and IP addresses are refused when the domain is set.",
    security: [...server],
    responses: { 200: ok("The domain", r.CustomDomain), default: error },
  },
  {
    method: "get",
    path: `${API}/metrics/datasets`,
    tag: "Imgwire",
    operationId: "imgwireMetricsDatasets",
    summary: "Time series",
    security: [...server],
    query: MetricsQuerySchema,
    responses: { 200: ok("Series", MetricsDatasets), default: error },
  },
  {
    method: "get",
    path: `${API}/metrics/stats`,
    tag: "Imgwire",
    operationId: "imgwireMetricsStats",
    summary: "Totals against the period before",
    security: [...server],
    query: MetricsQuerySchema,
    responses: { 200: ok("Totals", MetricsStats), default: error },
  },
  ...(["get", "head"] as const).map(
    (method): Op => ({
      method,
      path: `${M}/cdn/{username}/{path}`,
      route: `${M}/cdn/:username/*`,
      tag: "Imgwire",
      operationId: method === "get" ? "imgwireCdn" : "imgwireCdnHead",
      summary: "Deliver an image with Imgwire's URL parameters",
      description:
        "Each parameter by its name or any one of its aliases, at most once; an unknown parameter is a 400. " +
        "Without format (or with format=auto) the format is negotiated from Accept and the tenant's delivery_formats " +
        "(the answer then says Vary: Accept). A named preset may follow the path as @name (…/image.jpg@thumbnail). " +
        "A private image needs the owner's key or a signed URL (token and expires); a watermark by id may name a private " +
        "image only then, and watermark_url fetches only for signed URLs, the owner, or the tenant's fetch_origins. " +
        "Under IMGD_TRANSFORMS or the tenant's transforms (signed, presets) unsigned URLs of others get only the original " +
        "(and @presets), else 403.",
      params: { username: "The owner's username", path: "The image's path" },
      query: CdnQuery,
      responses: {
        200: {
          description: "The image",
          media: "image/*",
          headers: { ETag: "The variant's tag", Vary: "Accept, when the format was negotiated" },
        },
        304: { description: "Not modified" },
        default: { description: "An error (400 for bad parameters)", json: r.ImgwireError },
      },
    }),
  ),
  {
    method: "put",
    path: `${M}/uploads/{id}`,
    tag: "Imgwire",
    operationId: "imgwireUploadBytes",
    summary: "PUT the bytes of a standard upload to its signed upload_url",
    params: { id: "The image's id" },
    query: v.object({ expires: v.string(), signature: v.string() }),
    body: { kind: "binary", media: "image/*", required: true },
    responses: { 200: { description: "Stored" }, default: error },
  },
  {
    method: "get",
    path: `${M}/downloads/{file}`,
    tag: "Imgwire",
    operationId: "imgwireDownloadZip",
    summary: "The ZIP of a bulk download (its signed download_url)",
    params: { file: "{job id}.zip" },
    query: v.object({ expires: v.string(), signature: v.string() }),
    responses: { 200: { description: "The ZIP", media: "application/zip" }, default: error },
  },
];

export const imgwireSchemas = {
  ImgwireError: r.ImgwireError,
  ImgwireImage: r.Image,
  ImgwireApiKey: r.ApiKey,
  ImgwireEnvironment: r.Environment,
  ImgwireCorsOrigin: r.CorsOrigin,
  ImgwireCustomDomain: r.CustomDomain,
};
