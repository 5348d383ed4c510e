import { type ConversionConfig, type JsonSchema, toJsonSchema, toJsonSchemaDefs } from "@valibot/to-json-schema";
import { compatOps } from "./compat.ts";
import { assetsrepoOps, dashboardOps } from "./dashboard.ts";
import type { Op, Schema, Security, Tag } from "./describe.ts";
import { IMGWIRE_MOUNT, imgwireOps, imgwireSchemas } from "./imgwire.ts";
import type { Json } from "./json.ts";
import { imgproOps, imgproSchemas } from "./imgpro.ts";
import { nativeOps, nativeSchemas } from "./native.ts";
import { referenceOps } from "./reference.ts";

// imgd's OpenAPI 3.1 document, generated from the valibot schemas the routes parse requests
// with and the response schemas their answers are built to (the tests check real answers
// against it). `npm run openapi` writes the reviewed copy, reference/imgd.openapi.json.

export const TAGS: { name: Tag; description: string }[] = [
  { name: "native", description: "imgd's own API in img-src's style: /api/v1 and delivery at /i/{username}/{path}" },
  {
    name: "compatible",
    description:
      "Other tools' URL shapes on the same images and cache: IPX (/_ipx), Cloudflare Images (/cdn-cgi/image), Next.js " +
      "(/_next/image), imgproxy (/imgproxy) and thumbor (/thumbor); imgix's parameters on /i/; and, with IMGD_CDN_HOST, " +
      "img-src's host-based /{username}/{path}. Their sources are imgd paths or URLs on imgd's own host, never other " +
      "hosts. They serve public images, and private ones to their owner's key (anyone else gets a 403: sign a native URL)",
  },
  { name: "img.pro", description: "img.pro's API at /v1: upload, import, media library, namespaces" },
  { name: "Imgwire", description: "Imgwire's resource API, upload URLs and CDN under the Imgwire mount" },
  { name: "AssetsRepo", description: "AssetsRepo's image route: GET /api/images/{path} with a Bearer key" },
  { name: "dashboard", description: "The dashboard's session API: sign in, sessions, password" },
  { name: "operator", description: "Health, users, plans and Prometheus metrics for the operator" },
  { name: "reference", description: "This document, the interactive reference and llms.txt" },
];

/** Every documented operation, Imgwire's at the default mount. */
export const ALL_OPS: Op[] = [
  ...nativeOps,
  ...compatOps,
  ...imgproOps,
  ...imgwireOps,
  ...assetsrepoOps,
  ...dashboardOps,
  ...referenceOps,
];

const NAMED: Record<string, Schema> = { ...nativeSchemas, ...imgproSchemas, ...imgwireSchemas };

const SECURITY_SCHEMES: Record<Security, Record<string, string>> = {
  bearerKey: {
    type: "http",
    scheme: "bearer",
    description:
      "An API key (imgsrc_…), from the dashboard's Keys page, `imgd keys create`, or POST /api/v1/settings/api-keys. " +
      "Every key works on every dialect within its scopes (read, write). Never put a key in the URL.",
  },
  clientKey: {
    type: "http",
    scheme: "bearer",
    description:
      "An Imgwire client key: may only start standard uploads and read images, from the environment's CORS origins.",
  },
  sessionCookie: {
    type: "apiKey",
    in: "cookie",
    name: "imgd_session",
    description:
      "The dashboard's session cookie (POST /auth/login). State-changing requests with it also need the session's " +
      "csrf_token in an X-CSRF-Token header and a same-site Origin.",
  },
};

export interface DocumentOptions {
  version: string;
  /** Where the Imgwire dialect is mounted (config.imgwireMount). */
  imgwireMount?: string;
  /** The server URL the document names (the base path imgd is served under). */
  serverUrl?: string;
  /** Only operations with these tags. */
  tags?: Tag[];
  title?: string;
}

interface PipeItem {
  kind: string;
  type: string;
  requirement?: unknown;
}

/**
 * A query-string integer (validate.ts's queryInt: digits, then a number within bounds) is a
 * string on the wire; the document says what it means: an integer from min to max.
 */
function queryInteger(schema: unknown, json: Json): Json | undefined {
  const pipe = (schema as { pipe?: PipeItem[] }).pipe;
  if (!pipe?.some((a) => a.type === "regex" && String(a.requirement) === String(/^\d{1,9}$/))) return undefined;
  const bound = (type: string) => pipe.find((a) => a.type === type)?.requirement as number | undefined;
  const out: Json = { type: "integer", minimum: bound("min_value"), maximum: bound("max_value") };
  if (json.default !== undefined) out.default = Number(json.default);
  if (json.description) out.description = json.description;
  return out;
}

const config: ConversionConfig = {
  target: "draft-2020-12",
  typeMode: "input",
  errorMode: "ignore",
  definitions: NAMED,
  overrideRef: (ctx) => `#/components/schemas/${ctx.referenceId}`,
};

function convert(schema: Schema): Json {
  const { $schema: _, $defs: __, ...rest } = toJsonSchema(schema, config) as Json;
  return rest;
}

/** An operation's path at the configured Imgwire mount. */
export function pathAt(op: Op, mount: string): string {
  return mount !== IMGWIRE_MOUNT && op.path.startsWith(`${IMGWIRE_MOUNT}/`)
    ? mount + op.path.slice(IMGWIRE_MOUNT.length)
    : op.path;
}

function parameters(op: Op): Json[] {
  const out: Json[] = [];
  for (const [name, description] of Object.entries(op.params ?? {}))
    out.push({ name, in: "path", required: true, description, schema: { type: "string" } });
  if (op.query) {
    const js = convert(op.query);
    const required = new Set<string>(js.required ?? []);
    const entries = (op.query as { entries?: Record<string, unknown> }).entries;
    for (const [name, schema] of Object.entries<Json>(js.properties ?? {})) {
      const { description, ...rest } = queryInteger(entries?.[name], schema) ?? schema;
      out.push({
        name,
        in: "query",
        required: required.has(name),
        ...(description ? { description } : {}),
        schema: rest,
      });
    }
  }
  for (const [name, description] of Object.entries(op.headers ?? {}))
    out.push({ name, in: "header", description, schema: { type: "string" } });
  return out;
}

function requestBody(op: Op): Json | undefined {
  const b = op.body;
  if (!b) return undefined;
  const required = b.required ?? false;
  const description = b.description ? { description: b.description } : {};
  if (b.kind === "binary")
    return { required, ...description, content: { [b.media ?? "application/octet-stream"]: { schema: {} } } };
  const schema = b.schema ? convert(b.schema) : { type: "object" };
  if (b.kind === "json") return { required, ...description, content: { "application/json": { schema } } };
  // Forms: the file field is binary.
  if (schema.properties?.file) {
    const { description: fd } = schema.properties.file;
    schema.properties.file = {
      type: "string",
      format: "binary",
      contentMediaType: "application/octet-stream",
      description: fd,
    };
  }
  const content: Json = { "multipart/form-data": { schema } };
  if (b.kind === "form") content["application/json"] = { schema };
  return { required, ...description, content };
}

function responses(op: Op): Json {
  const out: Json = {};
  for (const [status, a] of Object.entries(op.responses)) {
    const r: Json = { description: a.description };
    if (a.headers)
      r.headers = Object.fromEntries(
        Object.entries(a.headers).map(([k, description]) => [k, { description, schema: { type: "string" } }]),
      );
    if (a.json) r.content = { "application/json": { schema: convert(a.json) } };
    else if (a.media) r.content = { [a.media]: { schema: { type: "string", contentMediaType: a.media } } };
    out[status] = r;
  }
  return out;
}

/** The document; `tags` narrows it (img-src's path serves the native part). */
export function buildDocument(opts: DocumentOptions): Json {
  const mount = opts.imgwireMount ?? IMGWIRE_MOUNT;
  const ops = ALL_OPS.filter((op) => !opts.tags || opts.tags.includes(op.tag));
  const paths: Json = {};
  for (const op of ops) {
    const path = pathAt(op, mount);
    paths[path] ??= {};
    paths[path][op.method] = {
      tags: [op.tag],
      operationId: op.operationId,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      security: (op.security ?? []).map((s) => ({ [s]: [] })),
      parameters: parameters(op),
      ...(op.body ? { requestBody: requestBody(op) } : {}),
      responses: responses(op),
    };
    if (paths[path][op.method].parameters.length === 0) delete paths[path][op.method].parameters;
  }
  const used = new Set(ops.map((o) => o.tag));
  const schemas = Object.fromEntries(
    Object.entries(toJsonSchemaDefs(NAMED, config) as Record<string, JsonSchema>).map(([k, s]) => {
      const { $schema: _, ...rest } = s as Json;
      return [k, rest];
    }),
  );
  return {
    openapi: "3.1.0",
    info: {
      title: opts.title ?? "imgd",
      version: opts.version,
      description:
        "A self-hosted image host and image CDN origin. One server speaks several API dialects: imgd's own (img-src style), " +
        "img.pro, Imgwire and AssetsRepo; every API key works on each. Interactive reference: /docs. A short guide for " +
        "coding agents: /llms.txt. A typed TypeScript client: `imgd/client`.",
      license: { name: "See the repository" },
    },
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    servers: [{ url: opts.serverUrl || "/" }],
    tags: TAGS.filter((t) => used.has(t.name)),
    paths,
    components: { schemas, securitySchemes: SECURITY_SCHEMES },
  };
}

/** A Hono route as the document names it: the op's own `route`, or its path with `{x}` as `:x`. */
export const routeOf = (op: Op) => op.route ?? op.path.replace(/\{(\w+)\}/g, ":$1");
