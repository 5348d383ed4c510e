import { Hono } from "hono";
import * as v from "valibot";
import type { Preset } from "../../domain/records.ts";
import { parseParams } from "../../domain/delivery/native.ts";
import type { RouteEnv } from "../env.ts";
import { jsonBody, parse } from "../validate.ts";
import { unix } from "./shape.ts";

/** The services these routes use. */
type Env = RouteEnv<"delivery" | "metering" | "presets">;

const name = v.pipe(
  v.string("must be a string"),
  v.trim(),
  v.minLength(1, "must not be empty"),
  v.maxLength(50, "at most 50 characters"),
  v.regex(/^[\w.-]+$/, "may hold letters, digits, '_', '-' and '.'"),
);
const description = v.nullable(v.pipe(v.string("must be a string"), v.maxLength(200, "at most 200 characters")));
const params = v.record(v.string(), v.unknown(), "must be an object");

export const CreatePreset = v.strictObject({ name, description: v.optional(description), params });
export const UpdatePreset = v.strictObject({
  name: v.optional(name),
  description: v.optional(description),
  params: v.optional(params),
});

const shape = (p: Preset) => ({
  id: p.id,
  name: p.name,
  description: p.description,
  params: p.params,
  created_at: unix(p.created_at),
  updated_at: unix(p.updated_at),
  usage_count: Number(p.usage_count),
});

/** A preset's params pass the same validation as URL options; they are stored as given. */
function checkParams(p: Record<string, unknown>) {
  parseParams(p, "params");
  return p;
}

export const presetRoutes = new Hono<Env>()
  .use((c, next) => (c.var.services.metering.requireFeature(c.var.principal.user, "presets"), next()))
  .get("/", async (c) => {
    const list = await c.var.services.presets.list(c.var.principal.user.id);
    return c.json({ presets: list.map(shape), total: list.length });
  })
  .post("/", async (c) => {
    const body = parse(CreatePreset, await jsonBody(c.req.raw));
    const p = await c.var.services.presets.create(c.var.principal.user.id, {
      ...body,
      params: checkParams(body.params),
    });
    return c.json(shape(p), 201);
  })
  .get("/:id", async (c) =>
    c.json(shape(await c.var.services.presets.byIdOrName(c.var.principal.user.id, c.req.param("id")))),
  )
  .put("/:id", async (c) => {
    const body = parse(UpdatePreset, await jsonBody(c.req.raw));
    if (body.params) checkParams(body.params);
    const p = await c.var.services.presets.update(c.var.principal.user.id, c.req.param("id"), body);
    c.var.services.delivery.forgetUser(c.var.principal.user.id);
    return c.json(shape(p));
  })
  .delete("/:name", async (c) => {
    await c.var.services.presets.delete(c.var.principal.user.id, c.req.param("name"));
    c.var.services.delivery.forgetUser(c.var.principal.user.id);
    return c.json({ success: true, message: "Preset has been deleted" });
  });
