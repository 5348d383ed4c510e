import { openapiSchemaToJsonSchema } from "@openapi-contrib/openapi-schema-to-json-schema";
import Ajv, { type ValidateFunction } from "ajv";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { readFileSync } from "node:fs";
import { ALL_OPS, buildDocument } from "../../src/http/openapi/document.ts";

// Validates real responses against a reference OpenAPI 3.0 document with a real JSON-schema
// validator (ajv). OpenAPI 3.0 schemas (nullable, boolean exclusiveMinimum) are converted to
// JSON Schema by a maintained library first.

function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === "object") {
    // Draft-04's boolean exclusiveMinimum, as OpenAPI 3.0 writes it, in today's numeric form.
    const n = { ...(node as Record<string, unknown>) };
    for (const [ex, lim] of [
      ["exclusiveMinimum", "minimum"],
      ["exclusiveMaximum", "maximum"],
    ] as const) {
      if (typeof n[ex] === "boolean") {
        if (n[ex] && typeof n[lim] === "number") {
          n[ex] = n[lim];
          delete n[lim];
        } else delete n[ex];
      }
    }
    // An optional member may be null: imgd sends every member the SDK models declare, null
    // where there is no value, and the SDKs' parsers take null for optional.
    if (n.properties && typeof n.properties === "object") {
      const required = new Set((n.required as string[] | undefined) ?? []);
      n.properties = Object.fromEntries(
        Object.entries(n.properties as Record<string, unknown>).map(([k, v]) => [
          k,
          required.has(k) ? v : { anyOf: [v, { type: "null" }] },
        ]),
      );
    }
    node = n;
    return Object.fromEntries(
      // The converter stamps draft-04 on each schema; ajv validates them as its own draft.
      Object.entries(node as Record<string, unknown>)
        .filter(([k]) => k !== "$schema")
        .map(([k, v]) => [k, k === "$ref" && typeof v === "string" && v.startsWith("#/") ? `doc${v}` : rewriteRefs(v)]),
    );
  }
  return node;
}

export function openapiValidator(file: string) {
  const doc = JSON.parse(readFileSync(file, "utf8"));
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
    schemas[name] = rewriteRefs(openapiSchemaToJsonSchema(schema as object, { supportPatternProperties: true }));
  }
  ajv.addSchema({ $id: "doc", components: { schemas } });
  const cache = new Map<string, ValidateFunction>();

  /** Throws with ajv's errors unless `body` matches the document's schema for this response. */
  return function check(method: string, path: string, status: number, body: unknown) {
    const key = `${method} ${path} ${status}`;
    let validate = cache.get(key);
    if (!validate) {
      const op = doc.paths[path]?.[method.toLowerCase()];
      if (!op) throw new Error(`the document has no ${method} ${path}`);
      const schema = op.responses?.[String(status)]?.content?.["application/json"]?.schema;
      if (!schema) throw new Error(`the document has no JSON ${status} response for ${method} ${path}`);
      validate = ajv.compile(rewriteRefs(openapiSchemaToJsonSchema(schema)) as object);
      cache.set(key, validate);
    }
    if (!validate(body)) {
      throw new Error(
        `${key} does not match the document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body, null, 1).slice(0, 2000)}`,
      );
    }
    return true;
  };
}

// imgd's own document (generated in-process from src/http/openapi, the same source /openapi.json
// serves): every answer a test gets through startServer's `api` is checked against it.

type Doc = ReturnType<typeof buildDocument>;
interface Template {
  path: string;
  re: RegExp;
  params: number;
}

let imgdDoc: { doc: Doc; ajv: Ajv2020; templates: Template[]; cache: Map<string, ValidateFunction> } | undefined;

function loadImgdDoc() {
  if (imgdDoc) return imgdDoc;
  const doc = buildDocument({ version: "test" });
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: "imgd", components: doc.components });
  const wildcard = new Set(ALL_OPS.filter((o) => o.route?.endsWith("*")).map((o) => o.path));
  const templates = Object.keys(doc.paths)
    .map((path) => {
      const names = path.match(/\{\w+\}/g) ?? [];
      let re = path.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
      names.forEach((n, i) => {
        const last = i === names.length - 1 && wildcard.has(path);
        re = re.replace(n.replace(/[{}]/g, "\\$&"), last ? ".+" : "[^/]+");
      });
      return { path, re: new RegExp(`^${re.replace(/\/$/, "")}/?$`), params: names.length };
    })
    .sort((a, b) => a.params - b.params || b.path.length - a.path.length);
  imgdDoc = { doc, ajv, templates, cache: new Map() };
  return imgdDoc;
}

const refsToImgd = (node: unknown): unknown =>
  Array.isArray(node)
    ? node.map(refsToImgd)
    : node && typeof node === "object"
      ? Object.fromEntries(
          Object.entries(node).map(([k, v]) => [
            k,
            k === "$ref" && typeof v === "string" && v.startsWith("#/") ? `imgd${v}` : refsToImgd(v),
          ]),
        )
      : node;

/**
 * Checks one answer against imgd's own document: its status must be documented for the route
 * (or covered by `default`) and a JSON body must match the schema. Paths the document does not
 * know are left to the route-coverage test (test/openapi/document.test.ts).
 */
export async function checkImgdAnswer(method: string, url: string, res: Response): Promise<void> {
  const { doc, ajv, templates, cache } = loadImgdDoc();
  const path = new URL(url).pathname;
  const template = templates.find((t) => t.re.test(path) && doc.paths[t.path][method.toLowerCase()]);
  if (!template) return;
  const op = doc.paths[template.path][method.toLowerCase()];
  const answer = op.responses[String(res.status)] ?? op.responses.default;
  const where = `${method} ${template.path} → ${res.status}`;
  if (!answer)
    throw new Error(
      `${where}: imgd's document does not describe this status; add it to the route's responses in src/http/openapi/ and run npm run openapi`,
    );
  const type = res.headers.get("content-type") ?? "";
  if (!/json/.test(type) || method === "HEAD" || res.status === 204 || res.status === 304) return;
  const schema = answer.content?.["application/json"]?.schema;
  if (!schema)
    throw new Error(`${where}: answered JSON, but imgd's document describes no JSON body (src/http/openapi/)`);
  const text = await res.clone().text();
  const body = text ? JSON.parse(text) : null;
  const key = `${where} ${res.status in op.responses ? res.status : "default"}`;
  let validate = cache.get(key);
  if (!validate) {
    validate = ajv.compile(refsToImgd(schema) as object);
    cache.set(key, validate);
  }
  if (!validate(body))
    throw new Error(
      `${where} does not match imgd's document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body, null, 1).slice(0, 1500)}\n` +
        "Fix the answer, or its response schema (src/http/*/responses.ts), then run npm run openapi.",
    );
}
