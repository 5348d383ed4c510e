/** A JSON value as the document is built: plain objects all the way down. */
// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is free-form JSON.
export type Json = Record<string, any>;
