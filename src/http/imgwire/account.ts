import { type Context, Hono } from "hono";
import * as v from "valibot";
import { boundsOf } from "../../domain/accounts/keys.ts";
import { AppError } from "../../domain/errors.ts";
import { normalizeHostname } from "../../domain/imgwire/domains.ts";
import type { ImgwireDomain } from "../../domain/records.ts";
import { baseUrl, body, type ImgwireEnv, PageQuery, paged, parseIn, pathId } from "./context.ts";
import { corsSchema, domainSchema, environmentSchema, keyItem } from "./shape.ts";

/** The services these routes use. */
type Env = ImgwireEnv<"config" | "imgwire" | "tokens" | "ownHosts">;
type C = Context<Env>;

// API keys, environments, CORS origins and the custom domain.

const nullish = <S extends v.GenericSchema>(s: S) => v.optional(v.nullable(s));
const name = v.pipe(
  v.string("Field required"),
  v.minLength(1, "String should have at least 1 character"),
  v.maxLength(100, "String should have at most 100 characters"),
);
const keyType = v.picklist(["CLIENT", "SERVER"], "Input should be 'CLIENT' or 'SERVER'");
const limits = {
  scopes: nullish(v.array(v.pipe(v.string(), v.maxLength(64)))),
  allow_unsigned_upload: nullish(v.boolean("Input should be a valid boolean")),
  maximum_upload_bytes: nullish(
    v.pipe(
      v.number(),
      v.integer("Input should be a valid integer"),
      v.minValue(5120, "Input should be greater than or equal to 5120"),
      v.maxValue(104857600, "Input should be less than or equal to 104857600"),
    ),
  ),
  allowed_mime_types: nullish(
    v.array(v.pipe(v.string(), v.regex(/^image\/[a-z0-9.+-]+$/, "Input should be an image MIME type"))),
  ),
  maximum_pending_uploads: nullish(
    v.pipe(
      v.number(),
      v.integer("Input should be a valid integer"),
      v.minValue(5, "Input should be greater than or equal to 5"),
    ),
  ),
};
export const KeyCreate = v.object({ name, key_type: keyType, ...limits });
export const KeyUpdate = v.object({ name: nullish(name), ...limits });
export const KeyListQuery = v.object({ ...PageQuery.entries, key_type: v.optional(keyType) });
export const NameBody = v.object({ name });
export const Pattern = v.object({
  pattern: v.pipe(
    v.string("Field required"),
    v.minLength(1, "String should have at least 1 character"),
    v.maxLength(255),
  ),
});
export const Hostname = v.object({
  hostname: v.pipe(
    v.string("Field required"),
    v.minLength(1, "String should have at least 1 character"),
    v.maxLength(253),
  ),
});

const offset = (q: { page: number; limit: number }) => ({ limit: q.limit, offset: (q.page - 1) * q.limit });

export const keyRoutes = new Hono<Env>()
  .get("/", async (c) => {
    const q = parseIn(KeyListQuery, c.req.query(), "query");
    const kind = q.key_type === "CLIENT" ? "client" : q.key_type === "SERVER" ? "server" : undefined;
    const r = await c.var.services.imgwire.keys.listKeys(c.var.env.id, kind, offset(q));
    return paged(c, r.rows.map(keyItem), r.total, q.page, q.limit);
  })
  .post("/", async (c) => {
    const input = await body(c, KeyCreate);
    const { key, secret } = await c.var.services.imgwire.keys.createKey(
      c.var.env.id,
      input.key_type,
      input,
      boundsOf(c.var.principal),
    );
    // The secret is shown this once; afterwards only its last four characters.
    return c.json({ ...keyItem(key), server_key: secret });
  })
  .get("/:api_key_id", async (c) =>
    c.json(keyItem(await c.var.services.imgwire.keys.key(c.var.env.id, pathId(c, "api_key_id")))),
  )
  .patch("/:api_key_id", async (c) => {
    const input = await body(c, KeyUpdate);
    return c.json(
      keyItem(
        await c.var.services.imgwire.keys.updateKey(
          c.var.env.id,
          pathId(c, "api_key_id"),
          input,
          boundsOf(c.var.principal),
        ),
      ),
    );
  })
  .delete("/:api_key_id", async (c) => {
    await c.var.services.imgwire.keys.deleteKey(c.var.env.id, pathId(c, "api_key_id"));
    return c.json({ detail: "API key deleted" });
  });

export const environmentRoutes = new Hono<Env>()
  .get("/", async (c) => {
    const q = parseIn(PageQuery, c.req.query(), "query");
    const caller = c.var.principal.user;
    const r = await c.var.services.imgwire.environments.environments(caller, offset(q));
    return paged(
      c,
      r.rows.map((u) => environmentSchema(u, caller)),
      r.total,
      q.page,
      q.limit,
    );
  })
  .post("/", async (c) => {
    const input = await body(c, NameBody);
    const caller = c.var.principal.user;
    return c.json(
      environmentSchema(await c.var.services.imgwire.environments.createEnvironment(caller, input.name), caller),
    );
  })
  .get("/:environment_id", async (c) => {
    const caller = c.var.principal.user;
    return c.json(
      environmentSchema(
        await c.var.services.imgwire.environments.environment(caller, pathId(c, "environment_id")),
        caller,
      ),
    );
  })
  .patch("/:environment_id", async (c) => {
    const input = await body(c, NameBody);
    const caller = c.var.principal.user;
    return c.json(
      environmentSchema(
        await c.var.services.imgwire.environments.renameEnvironment(caller, pathId(c, "environment_id"), input.name),
        caller,
      ),
    );
  })
  .delete("/:environment_id", async (c) => {
    await c.var.services.imgwire.environments.deleteEnvironment(c.var.principal.user, pathId(c, "environment_id"));
    return c.json({ detail: "Environment deleted" });
  });

export const corsRoutes = new Hono<Env>()
  .get("/", async (c) => {
    const q = parseIn(PageQuery, c.req.query(), "query");
    const r = await c.var.services.imgwire.origins.origins(c.var.env.id, offset(q));
    return paged(c, r.rows.map(corsSchema), r.total, q.page, q.limit);
  })
  .post("/", async (c) =>
    c.json(
      corsSchema(await c.var.services.imgwire.origins.createOrigin(c.var.env.id, (await body(c, Pattern)).pattern)),
    ),
  )
  .get("/:cors_origin_id", async (c) =>
    c.json(corsSchema(await c.var.services.imgwire.origins.origin(c.var.env.id, pathId(c, "cors_origin_id")))),
  )
  .patch("/:cors_origin_id", async (c) => {
    const input = await body(c, Pattern);
    return c.json(
      corsSchema(
        await c.var.services.imgwire.origins.updateOrigin(c.var.env.id, pathId(c, "cors_origin_id"), input.pattern),
      ),
    );
  })
  .delete("/:cors_origin_id", async (c) => {
    await c.var.services.imgwire.origins.deleteOrigin(c.var.env.id, pathId(c, "cors_origin_id"));
    return c.json({ detail: "CORS origin deleted" });
  });

/** The host the operator's CNAME must point at: imgd's public host. */
const publicHost = (c: C) => new URL(baseUrl(c)).hostname;

/** The answer for a domain: Imgwire's fields, the DCV pair naming imgd's TXT proof for this tenant. */
const domainAnswer = (c: C, d: ImgwireDomain) =>
  domainSchema(d, publicHost(c), c.var.services.imgwire.proof.token(c.var.env.id, d.hostname));

export const domainRoutes = new Hono<Env>()
  .get("/", async (c) => {
    const d = await c.var.services.imgwire.domains.domain(c.var.env.id);
    if (!d) throw new AppError("NOT_FOUND", "No custom domain is set");
    return c.json(domainAnswer(c, d));
  })
  .post("/", async (c) => {
    const input = await body(c, Hostname);
    const d = await c.var.services.imgwire.domains.setDomain(c.var.env.id, normalizeHostname(input.hostname));
    c.var.services.imgwire.hosts.forget(d.hostname);
    return c.json(domainAnswer(c, d));
  })
  .delete("/", async (c) => {
    const d = await c.var.services.imgwire.domains.domain(c.var.env.id);
    await c.var.services.imgwire.domains.deleteDomain(c.var.env.id);
    if (d) c.var.services.imgwire.hosts.forget(d.hostname);
    return c.json({ detail: "Custom domain deleted" });
  })
  .post("/test_connection", async (c) => {
    const { domains, hosts, proof } = c.var.services.imgwire;
    const d = await domains.domain(c.var.env.id);
    if (!d) throw new AppError("NOT_FOUND", "No custom domain is set");
    // CONNECTED only when the name publishes this environment's token for it (DNS TXT at
    // dcv_cname_record, or over HTTP); the caller learns yes or no, nothing about the name.
    const ok = await proof.proved(c.var.env.id, d.hostname);
    const updated = await domains.markDomain(c.var.env.id, ok);
    hosts.forget(d.hostname);
    return c.json(domainAnswer(c, updated));
  });
