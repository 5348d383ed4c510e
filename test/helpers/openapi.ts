import { openapiSchemaToJsonSchema } from "@openapi-contrib/openapi-schema-to-json-schema";
import Ajv, { type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { readFileSync } from "node:fs";

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
    // where there is no value (see DESIGN.md), and the SDKs' parsers take null for optional.
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
