import { Hono, type Context } from "hono";
import * as v from "valibot";
import { invalid, notFound } from "../../domain/errors.ts";
import type { Tokens } from "../../domain/tokens/tokens.ts";
import { BATCH_MAX_IDS, type MediaPatch } from "../../domain/library/media.ts";
import {
  FieldErrors,
  parseBool,
  parseCustom,
  parseDate,
  parseNamespace,
  parseTags,
  parseText,
} from "../../domain/library/fields.ts";
import { optionalKey, requireKey } from "../auth.ts";
import type { RouteEnv } from "../env.ts";
import { baseUrl } from "../urls.ts";
import { jsonBody, parse, queryInt } from "../validate.ts";
import { isPagePublic, mediaItem } from "./shape.ts";

/** The services these routes use. */
type Env = RouteEnv<"auth" | "config" | "images" | "media" | "tokens" | "users" | "ownHosts">;

// GET/PATCH/DELETE /v1/media…: the library. Batch routes come first so "batch" is never an id.

const csv = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

export const ListQuery = v.object({
  namespace: v.optional(v.string()),
  tags: v.optional(v.string()),
  tag_mode: v.optional(v.picklist(["any", "all"], "must be any or all"), "any"),
  ids: v.optional(
    v.pipe(
      v.string(),
      v.transform(csv),
      v.maxLength(BATCH_MAX_IDS, `at most ${BATCH_MAX_IDS} ids`),
      v.check((ids) => ids.every((id) => id.length <= 64), "ids are at most 64 characters"),
    ),
  ),
  limit: queryInt(1, 100, 50),
  cursor: v.optional(v.pipe(v.string(), v.maxLength(200, "is not a cursor from this API"))),
});

const Ids = v.pipe(
  v.array(
    v.pipe(v.string("each id must be a string"), v.maxLength(64, "ids are at most 64 characters")),
    "must be an array of ids",
  ),
  v.minLength(1, "must name at least one id"),
  v.maxLength(BATCH_MAX_IDS, `at most ${BATCH_MAX_IDS} ids per call`),
);

export const BatchPatch = v.strictObject({
  ids: Ids,
  tags: v.union([v.array(v.string()), v.string()], "must be an array of tags"),
  tag_mode: v.optional(v.picklist(["add", "remove", "set"], "must be add, remove or set"), "add"),
});

export const BatchDelete = v.union(
  [v.strictObject({ ids: Ids }), v.strictObject({ namespace: v.string("must be a namespace") })],
  "send either ids (up to 100) or a namespace",
);

/** Cursors are sealed: a client can pass them back, not forge or alter them. */
function cursorCodec(tokens: Tokens) {
  return {
    encode: (lastId: string) => tokens.seal("imgpro-cursor", JSON.stringify({ after: lastId })),
    decode: (cursor: string): string => {
      const bad = () => invalid("cursor", "is not a cursor from this API (pass next_cursor back unchanged)");
      const value = tokens.open("imgpro-cursor", cursor);
      if (value === null) throw bad();
      try {
        const after = JSON.parse(value).after;
        if (typeof after !== "string") throw bad();
        return after;
      } catch {
        throw bad();
      }
    },
  };
}

function patchOf(raw: Record<string, unknown>): MediaPatch {
  const e = new FieldErrors();
  const p: MediaPatch = {};
  if ("name" in raw) p.name = parseText(raw.name, e, "name", 255);
  if ("date" in raw) p.date = raw.date === null ? null : parseDate(raw.date, e);
  if ("tags" in raw) p.tags = raw.tags === null ? [] : parseTags(raw.tags, e);
  if ("public" in raw) p.pagePublic = parseBool(raw.public, e, "public");
  if ("namespace" in raw)
    p.namespace = raw.namespace === null || raw.namespace === "" ? null : parseNamespace(raw.namespace, e);
  if ("external_id" in raw)
    p.externalId =
      raw.external_id === null || raw.external_id === "" ? null : parseText(raw.external_id, e, "external_id", 255);
  for (const k of [
    "id",
    "url",
    "src",
    "width",
    "height",
    "filesize",
    "created_at",
    "expires_at",
    "ttl",
    "file",
    "source_url",
  ]) {
    if (k in raw) e.add(k, "cannot be changed");
  }
  p.custom = parseCustom(raw, e, true);
  e.throwIfAny();
  return p;
}

async function objectBody(c: Context<Env>): Promise<Record<string, unknown>> {
  const body = await jsonBody(c.req.raw);
  if (!body || typeof body !== "object" || Array.isArray(body)) throw invalid("body", "must be a JSON object");
  return body as Record<string, unknown>;
}

export const mediaRoutes = new Hono<Env>()
  .patch("/batch", requireKey(), async (c) => {
    const body = parse(BatchPatch, await objectBody(c));
    const e = new FieldErrors();
    const tags = parseTags(body.tags, e) ?? [];
    e.throwIfAny();
    const updated = await c.var.services.media.batchTags(
      c.var.principal.user.id,
      [...new Set(body.ids)],
      tags,
      body.tag_mode,
    );
    return c.json({ updated });
  })
  .delete("/batch", requireKey(), async (c) => {
    const body = parse(BatchDelete, await objectBody(c));
    const e = new FieldErrors();
    const by = "ids" in body ? { ids: [...new Set(body.ids)] } : { namespace: parseNamespace(body.namespace, e)! };
    e.throwIfAny();
    return c.json({ deleted: await c.var.services.media.batchDelete(c.var.principal.user.id, by) });
  })
  .get("/", requireKey(), async (c) => {
    const q = parse(ListQuery, c.req.query(), "query");
    const e = new FieldErrors();
    const namespace = q.namespace !== undefined ? parseNamespace(q.namespace, e) : undefined;
    const tags = q.tags !== undefined ? parseTags(q.tags, e) : undefined;
    e.throwIfAny();
    const cursors = cursorCodec(c.var.services.tokens);
    const after = q.cursor ? cursors.decode(q.cursor) : undefined;
    const { user } = c.var.principal;
    const { items, hasMore } = await c.var.services.media.list(user.id, {
      namespace,
      tags,
      tagMode: q.tag_mode,
      ids: q.ids,
      limit: q.limit,
      after,
    });
    const base = baseUrl(c);
    return c.json({
      data: items.map((img) => mediaItem(base, user, img, { editable: true })),
      next_cursor: hasMore ? cursors.encode(items[items.length - 1].id) : null,
      has_more: hasMore,
    });
  })
  .get("/:id", optionalKey(), async (c) => {
    const { images, users } = c.var.services;
    const principal = c.get("principal");
    const img = await images.byId(c.req.param("id"));
    if (!img) throw notFound("Media item");
    const own = principal?.user.id === img.user_id;
    // Another tenant's or an anonymous caller's view: only what the viewer page shows anyway.
    if (!own && !isPagePublic(img)) throw notFound("Media item");
    const owner = own ? principal!.user : (await users.byId(img.user_id))!;
    return c.json(mediaItem(baseUrl(c), owner, img, { editable: own }));
  })
  .patch("/:id", requireKey(), async (c) => {
    const patch = patchOf(await objectBody(c));
    const { user } = c.var.principal;
    const img = await c.var.services.media.update(user.id, c.req.param("id"), patch);
    c.var.services.images.changed(user.id);
    return c.json(mediaItem(baseUrl(c), user, img, { editable: true }));
  })
  .delete("/:id", requireKey(), async (c) => {
    const { user } = c.var.principal;
    const [live] = await c.var.services.images.many(user.id, [c.req.param("id")]);
    if (!live) throw notFound("Media item");
    await c.var.services.images.delete(user.id, [live.id]);
    return c.body(null, 204);
  });
