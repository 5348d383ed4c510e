/** A JSON value as the document is built: plain objects all the way down. */
export type Json = Record<string, any>;
