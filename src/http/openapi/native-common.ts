import type * as v from "valibot";
import * as r from "../native/responses.ts";
import type { Answer } from "./describe.ts";

// What every native operation's description shares.

export const auth = ["bearerKey", "sessionCookie"] as const;
export const error: Answer = { description: "An error, in the native envelope", json: r.NativeError };
export const ok = (description: string, json: v.GenericSchema, more: Partial<Answer> = {}) => ({
  description,
  json,
  ...more,
});
