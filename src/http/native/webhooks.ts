import { Hono } from "hono";
import * as v from "valibot";
import { EVENT_TYPES, type DeliveryRow, type Endpoint } from "../../domain/webhooks/index.ts";
import type { RouteEnv } from "../env.ts";
import { jsonBody, parse, queryInt } from "../validate.ts";
import { unix } from "./shape.ts";

/** The services these routes use. */
type Env = RouteEnv<"webhooks">;

export const CreateWebhook = v.strictObject({
  url: v.pipe(v.string("must be a string"), v.trim(), v.minLength(1, "is required")),
  events: v.pipe(
    v.array(
      v.picklist(EVENT_TYPES, `each event must be one of ${EVENT_TYPES.join(", ")}`),
      "must be an array of event types",
    ),
    v.minLength(1, "must name at least one event"),
  ),
});

export const DeliveriesQuery = v.object({ limit: queryInt(1, 100, 50) });

export const webhookItem = (w: Endpoint) => ({
  id: w.id,
  url: w.url,
  events: w.events,
  created_at: unix(w.createdAt),
});

export const deliveryItem = (d: DeliveryRow) => ({
  id: d.id,
  message_id: d.message_id,
  type: d.type,
  status: d.status,
  attempts: d.attempts,
  last_status: d.last_status,
  last_error: d.last_error,
  created_at: unix(d.created_at),
  next_attempt_at: d.status === "pending" ? unix(d.next_at) : null,
  finished_at: unix(d.finished_at),
  event: JSON.parse(d.payload) as unknown,
});

// Scopes as every native route: reading needs `read`, the rest `write` (the API's requireKey).
export const webhookRoutes = new Hono<Env>()
  .get("/", async (c) => {
    const list = await c.var.services.webhooks.list(c.var.principal.user.id);
    return c.json({ webhooks: list.map(webhookItem), total: list.length });
  })
  .post("/", async (c) => {
    const body = parse(CreateWebhook, await jsonBody(c.req.raw));
    const w = await c.var.services.webhooks.create(c.var.principal.user.id, body);
    return c.json({ ...webhookItem(w), secret: w.secret }, 201);
  })
  .get("/:id", async (c) =>
    c.json(webhookItem(await c.var.services.webhooks.get(c.var.principal.user.id, c.req.param("id")))),
  )
  .delete("/:id", async (c) => {
    await c.var.services.webhooks.delete(c.var.principal.user.id, c.req.param("id"));
    return c.json({ success: true, message: "Webhook deleted" });
  })
  .get("/:id/deliveries", async (c) => {
    const q = parse(DeliveriesQuery, c.req.query(), "query");
    const list = await c.var.services.webhooks.deliveries(c.var.principal.user.id, c.req.param("id"), q.limit);
    return c.json({ deliveries: list.map(deliveryItem), total: list.length });
  })
  .post("/:id/deliveries/:deliveryId/redeliver", async (c) => {
    const d = await c.var.services.webhooks.redeliver(
      c.var.principal.user.id,
      c.req.param("id"),
      c.req.param("deliveryId"),
    );
    return c.json(deliveryItem(d), 202);
  });
