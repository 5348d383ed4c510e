import type * as v from "valibot";

// What the API document says about one route: written beside the valibot schemas the route
// parses with, so the document is generated from the same schemas that validate requests.

export type Tag =
  | "native"
  | "compatible"
  | "img.pro"
  | "Imgwire"
  | "AssetsRepo"
  | "dashboard"
  | "operator"
  | "reference";

/** Security requirements by name (components.securitySchemes). */
export type Security = "bearerKey" | "clientKey" | "sessionCookie";

export type Schema = v.GenericSchema;

export interface Body {
  /** JSON, multipart form, form or JSON, or raw bytes of the given media type. */
  kind: "json" | "multipart" | "form" | "binary";
  schema?: Schema;
  /** For `binary`: the media type of the body. */
  media?: string;
  required?: boolean;
  description?: string;
}

export interface Answer {
  description: string;
  /** A JSON body of this shape. */
  json?: Schema;
  /** A body of another media type (image/*, text/html, application/zip, text/plain). */
  media?: string;
  /** Response headers worth knowing, by name → description. */
  headers?: Record<string, string>;
}

export interface Op {
  method: "get" | "post" | "put" | "patch" | "delete" | "head" | "options";
  /** The OpenAPI path template, e.g. `/api/v1/images/{id}`. */
  path: string;
  /** The Hono route it documents when it is not `path` with `{x}` as `:x` (wildcards, mounts). */
  route?: string;
  tag: Tag;
  operationId: string;
  summary: string;
  description?: string;
  /** Any one of these authenticates; empty or absent: no authentication. */
  security?: Security[];
  /** Path parameters by name → description (all strings). */
  params?: Record<string, string>;
  query?: v.ObjectSchema<v.ObjectEntries, v.ErrorMessage<v.ObjectIssue> | undefined> | Schema;
  headers?: Record<string, string>;
  body?: Body;
  responses: { [status: number]: Answer; default?: Answer };
}
