import * as v from "valibot";
import type { Op } from "./describe.ts";

// The routes that publish the API itself.

const doc = v.pipe(v.record(v.string(), v.unknown()), v.description("An OpenAPI 3.1 document"));

export const referenceOps: Op[] = [
  {
    method: "get",
    path: "/openapi.json",
    tag: "reference",
    operationId: "openapiDocument",
    summary: "This document: every route of every dialect",
    responses: { 200: { description: "OpenAPI 3.1", json: doc } },
  },
  {
    method: "get",
    path: "/api-reference/openapi.json",
    tag: "reference",
    operationId: "openapiNative",
    summary: "The native part only, where img-src publishes its document",
    responses: { 200: { description: "OpenAPI 3.1", json: doc } },
  },
  {
    method: "get",
    path: "/llms.txt",
    tag: "reference",
    operationId: "llmsTxt",
    summary: "A short plain-text guide to the API for coding agents",
    responses: { 200: { description: "Markdown", media: "text/plain" } },
  },
  {
    method: "get",
    path: "/docs",
    tag: "reference",
    operationId: "docs",
    summary: "The interactive reference (try requests with your session or a key)",
    responses: { 200: { description: "An HTML page", media: "text/html" } },
  },
  {
    method: "get",
    path: "/docs/assets/{name}",
    tag: "reference",
    operationId: "docsAsset",
    summary: "The interactive reference's scripts and styles (embedded, no CDN)",
    params: { name: "The asset's file name" },
    responses: {
      200: { description: "The asset", media: "application/octet-stream" },
      404: { description: "No such asset" },
    },
  },
];
