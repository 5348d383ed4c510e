import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";

/**
 * The columns schema.ts declares as JSON. Each name is used by one table only, so a result's
 * column name says whether it holds JSON.
 */
export const JSON_COLUMNS: ReadonlySet<string> = new Set([
  "delivery_formats",
  "fetch_origins",
  "options",
  "metadata",
  "params",
  "custom_metadata",
  "exif_data",
  "image_ids",
  "upload_fields",
  "upload_parts",
]);

/**
 * Parses the JSON columns of every result row, on SQLite and PostgreSQL alike (both keep them as
 * TEXT). Kysely's ParseJSONResultsPlugin parses any text that looks like JSON, a file name
 * included; this one parses only the columns named above. Text that is no JSON reads as null,
 * so the readers' defaults apply.
 */
export class JsonColumns implements KyselyPlugin {
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    for (const row of args.result.rows) parseRow(row);
    return args.result;
  }
}

function parseRow(row: UnknownRow) {
  for (const key in row) {
    const value = row[key];
    if (typeof value === "string" && JSON_COLUMNS.has(key)) row[key] = parseOrNull(value);
  }
}

function parseOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
