import { Hono } from "hono";
import * as v from "valibot";
import { boundsOf } from "../../domain/accounts/keys.ts";
import { notFound } from "../../domain/errors.ts";
import type { RouteEnv } from "../env.ts";
import { jsonBody, parse } from "../validate.ts";
import { keyItem, unix } from "./shape.ts";

/** The services these routes use. */
type Env = RouteEnv<"keys">;

export const CreateKey = v.strictObject({
  name: v.pipe(
    v.string("must be a string"),
    v.trim(),
    v.minLength(1, "must not be empty"),
    v.maxLength(100, "at most 100 characters"),
  ),
  scopes: v.optional(
    v.pipe(
      v.array(v.picklist(["read", "write"], "each scope must be 'read' or 'write'"), "must be an array of scopes"),
      v.minLength(1, "must name at least one scope"),
    ),
  ),
  expires_in_days: v.optional(
    v.nullable(
      v.pipe(
        v.number("must be a number"),
        v.integer("must be a whole number"),
        v.minValue(1, "must be 1–365"),
        v.maxValue(365, "must be 1–365"),
      ),
    ),
  ),
});

export const keyRoutes = new Hono<Env>()
  .get("/", async (c) => {
    const keys = await c.var.services.keys.list(c.var.principal.user.id);
    return c.json({ api_keys: keys.map(keyItem), total: keys.length });
  })
  .post("/", async (c) => {
    const body = parse(CreateKey, await jsonBody(c.req.raw));
    // Never stronger than the caller: its scopes and expiry bound the new key's (an omitted
    // field gets the caller's own, one asking for more is a 403).
    const { key, secret } = await c.var.services.keys.create(
      c.var.principal.user.id,
      { name: body.name, scopes: body.scopes, expiresInDays: body.expires_in_days },
      boundsOf(c.var.principal),
    );
    return c.json(
      {
        id: key.id,
        key: secret,
        key_prefix: key.key_prefix,
        name: key.name,
        scopes: key.scopes,
        created_at: unix(key.created_at),
        expires_at: unix(key.expires_at),
      },
      201,
    );
  })
  .delete("/:id", async (c) => {
    if (!(await c.var.services.keys.delete(c.var.principal.user.id, c.req.param("id")))) throw notFound("API key");
    return c.json({ success: true, message: "API key deleted" });
  });
