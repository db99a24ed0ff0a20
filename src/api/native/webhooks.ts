import { createRoute, z } from "@hono/zod-openapi";
import { requireScope } from "../../auth/middleware";
import { SCOPES } from "../../core/shared/scopes";
import * as core from "../../core/webhooks";
import type { NativeApp } from "./app";
import { bodyErrors, errors, json, ok } from "./openapi-helpers";
import * as s from "./schemas";
import { deliveryOut, webhookOut } from "./shape";
import * as w from "./webhook-schemas";

const admin = requireScope(SCOPES.admin);
const tags = ["webhooks"];

export function registerWebhookRoutes(app: NativeApp) {
  app.openapi(
    createRoute({
      method: "post",
      path: "/webhooks",
      tags,
      middleware: [admin] as const,
      description:
        "Registers an endpoint for the tenant's events from now on, signed per Standard Webhooks with the secret in this answer only. " +
        `At most ${core.WEBHOOK_LIMITS.endpointsPerTenant} per tenant. Needs scope admin.`,
      request: { body: json(w.createWebhookBody) },
      responses: {
        201: ok(s.result(w.createdWebhook), "The endpoint, with its signing secret"),
        422: ok(s.errorBody, "Too many endpoints"),
        ...bodyErrors,
      },
    }),
    async (c) => {
      const { endpoint, secret } = await core.createWebhook(c.var.scope, c.req.valid("json"));
      return c.json({ result: { ...webhookOut(endpoint), secret } }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhooks",
      tags,
      middleware: [admin] as const,
      responses: { 200: ok(s.result(z.array(w.webhook)), "The tenant's endpoints, oldest first, without secrets"), ...errors },
    }),
    async (c) => c.json({ result: (await core.listWebhooks(c.var.scope)).map(webhookOut) }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhooks/{webhook_id}",
      tags,
      middleware: [admin] as const,
      request: { params: w.webhookIdParam },
      responses: { 200: ok(s.result(w.webhook), "The endpoint"), ...errors },
    }),
    async (c) => c.json({ result: webhookOut(await core.getWebhook(c.var.scope, c.req.valid("param").webhook_id)) }, 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/webhooks/{webhook_id}",
      tags,
      middleware: [admin] as const,
      description:
        "Changes the URL, types or description; paused: true holds deliveries, false sends what waited (while the events are kept).",
      request: { params: w.webhookIdParam, body: json(w.updateWebhookBody) },
      responses: { 200: ok(s.result(w.webhook), "The endpoint as it is now"), ...bodyErrors },
    }),
    async (c) => {
      const updated = await core.updateWebhook(c.var.scope, c.req.valid("param").webhook_id, c.req.valid("json"));
      return c.json({ result: webhookOut(updated) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/webhooks/{webhook_id}",
      tags,
      middleware: [admin] as const,
      description: "Deletes the endpoint and its delivery records; queued deliveries are dropped.",
      request: { params: w.webhookIdParam },
      responses: { 200: ok(s.result(w.webhook), "The deleted endpoint"), ...errors },
    }),
    async (c) => c.json({ result: webhookOut(await core.deleteWebhook(c.var.scope, c.req.valid("param").webhook_id)) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/webhooks/{webhook_id}/rotate-secret",
      tags,
      middleware: [admin] as const,
      description:
        "Replaces the signing secret; the new one is in this answer only. For grace_seconds the old one signs too " +
        "(webhook-signature carries both), so a receiver can switch without missing a delivery.",
      request: { params: w.webhookIdParam, body: json(w.rotateSecretBody) },
      responses: { 200: ok(s.result(w.createdWebhook), "The endpoint, with its new secret"), ...bodyErrors },
    }),
    async (c) => {
      const { endpoint, secret } = await core.rotateWebhookSecret(
        c.var.scope,
        c.req.valid("param").webhook_id,
        c.req.valid("json").grace_seconds,
      );
      return c.json({ result: { ...webhookOut(endpoint), secret } }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhooks/{webhook_id}/deliveries",
      tags,
      middleware: [admin] as const,
      description:
        "Each event sent to the endpoint, newest first: pending (queued or waiting for a retry), delivered, or dead (every attempt failed).",
      request: { params: w.webhookIdParam, query: w.deliveryQuery },
      responses: { 200: ok(w.deliveryPage, "A page of deliveries; resume with before=next_before"), ...errors },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await core.listDeliveries(c.var.scope, c.req.valid("param").webhook_id, {
        status: q.status,
        before: q.before === undefined ? undefined : Number(q.before),
        limit: q.limit,
      });
      return c.json(
        { result: page.deliveries.map(deliveryOut), next_before: page.nextBefore === null ? null : String(page.nextBefore) },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/webhooks/{webhook_id}/deliveries/{event_id}/redeliver",
      tags,
      middleware: [admin] as const,
      description: "Sends the event to the endpoint again with the same webhook-id, its attempts counted afresh.",
      request: { params: w.deliveryParams },
      responses: { 202: ok(s.result(w.delivery), "Queued"), ...errors },
    }),
    async (c) => {
      const { webhook_id, event_id } = c.req.valid("param");
      return c.json({ result: deliveryOut(await core.redeliver(c.var.scope, webhook_id, event_id)) }, 202);
    },
  );
}
