import { CreateWebhook, DeliveriesQuery } from "../native/webhooks.ts";
import * as r from "../native/responses.ts";
import type { Op } from "./describe.ts";
import { auth, error, ok } from "./native-common.ts";

// The native dialect's webhooks: endpoints a tenant registers, and what was delivered to them.

const about =
  "Deliveries are POSTs of `{type, timestamp, data}` (`data.id` is the image's id) signed as Standard Webhooks " +
  "defines (`webhook-id`, `webhook-timestamp`, `webhook-signature`), so its verifier libraries check them. They " +
  "come from an outbox written with the change, are retried with back-off for about 24 hours " +
  "(IMGD_WEBHOOK_RETRY_DELAYS), and one image's events reach an endpoint in order.";

export const webhookOps: Op[] = [
  {
    method: "get",
    path: "/api/v1/webhooks",
    tag: "native",
    operationId: "listWebhooks",
    summary: "List webhook endpoints (their secrets are not shown again)",
    security: [...auth],
    responses: { 200: ok("Endpoints", r.WebhookList), default: error },
  },
  {
    method: "post",
    path: "/api/v1/webhooks",
    tag: "native",
    operationId: "createWebhook",
    summary: "Register a webhook endpoint",
    description: `${about} Endpoints on private or loopback addresses are refused unless IMGD_WEBHOOK_ALLOW_NETWORKS allows them.`,
    security: [...auth],
    body: { kind: "json", schema: CreateWebhook, required: true },
    responses: { 201: ok("Registered; the secret is shown only here", r.WebhookCreated), default: error },
  },
  {
    method: "get",
    path: "/api/v1/webhooks/{id}",
    tag: "native",
    operationId: "getWebhook",
    summary: "A webhook endpoint",
    security: [...auth],
    params: { id: "The endpoint's id" },
    responses: { 200: ok("The endpoint", r.Webhook), default: error },
  },
  {
    method: "delete",
    path: "/api/v1/webhooks/{id}",
    tag: "native",
    operationId: "deleteWebhook",
    summary: "Remove a webhook endpoint (its pending deliveries are not sent)",
    security: [...auth],
    params: { id: "The endpoint's id" },
    responses: { 200: ok("Removed", r.Success), default: error },
  },
  {
    method: "get",
    path: "/api/v1/webhooks/{id}/deliveries",
    tag: "native",
    operationId: "listWebhookDeliveries",
    summary: "Recent deliveries to an endpoint, newest first",
    security: [...auth],
    params: { id: "The endpoint's id" },
    query: DeliveriesQuery,
    responses: { 200: ok("Deliveries", r.WebhookDeliveryList), default: error },
  },
  {
    method: "post",
    path: "/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver",
    tag: "native",
    operationId: "redeliverWebhook",
    summary: "Send a delivered or given-up event again",
    description: "A new delivery with the same webhook-id; one still pending is a 409.",
    security: [...auth],
    params: { id: "The endpoint's id", deliveryId: "The delivery's id" },
    responses: { 202: ok("Queued", r.WebhookDelivery), default: error },
  },
];
