// Wire schemas of the native webhooks API.
import { z } from "@hono/zod-openapi";
import { EVENT_TYPES } from "../../core/events";
import { idSchema } from "../../core/shared/validation";
import { MAX_ROTATION_GRACE_SECONDS, WEBHOOK_LIMITS } from "../../core/webhooks";

export const webhookIdParam = z.object({
  webhook_id: idSchema.openapi({ param: { name: "webhook_id", in: "path" }, example: "5e0c1d2f3a4b6c7d" }),
});

export const deliveryParams = webhookIdParam.extend({
  event_id: idSchema.openapi({ param: { name: "event_id", in: "path" }, example: "8a1b2c3d4e5f6a7b" }),
});

const eventType = z.enum(EVENT_TYPES, { message: `must be an event type: ${EVENT_TYPES.join(", ")}` });
const types = z
  .array(eventType)
  .min(1, "must name at least one type (or be null for all)")
  .max(EVENT_TYPES.length)
  .nullable()
  .openapi({ description: "the event types sent; absent or null: all", example: ["group.members.added", "group.members.removed"] });
const url = z.string().min(1).max(WEBHOOK_LIMITS.urlLength).openapi({
  description: "https, on the internet (no private, loopback or link-local address)",
  example: "https://hooks.example.com/edge-groups",
});
const description = z.string().max(WEBHOOK_LIMITS.descriptionLength);

export const createWebhookBody = z
  .object({ url, types: types.optional(), description: description.optional() })
  .strict()
  .openapi("CreateWebhook", { example: { url: "https://hooks.example.com/edge-groups", types: ["group.members.added"] } });

export const updateWebhookBody = z
  .object({
    url: url.optional(),
    types: types.optional(),
    description: description.optional(),
    paused: z.boolean().optional().openapi({ description: "true holds deliveries; false sends what waited" }),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, "must change at least one field")
  .openapi("UpdateWebhook");

export const webhook = z
  .object({
    webhook_id: z.string(),
    url: z.string(),
    description: z.string(),
    types: z.array(z.string()).nullable(),
    paused: z.boolean(),
    previous_secret_expires_at: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "after a rotation: until when (epoch seconds) deliveries are signed with the old secret too" }),
    created_by: z.string(),
    created_at: z.number().int(),
    updated_at: z.number().int(),
  })
  .openapi("Webhook");

export const createdWebhook = webhook
  .extend({ secret: z.string().openapi({ description: "shown once: the Standard Webhooks signing secret (whsec_...)" }) })
  .openapi("CreatedWebhook");

export const rotateSecretBody = z
  .object({
    grace_seconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_ROTATION_GRACE_SECONDS)
      .default(24 * 3600)
      .openapi({ description: `how long the old secret signs too, 0-${MAX_ROTATION_GRACE_SECONDS} seconds (default a day)` }),
  })
  .strict()
  .openapi("RotateWebhookSecret");

export const deliveryQuery = z.object({
  status: z.enum(["pending", "delivered", "dead"]).optional(),
  before: z
    .string()
    .regex(/^\d{1,18}$/, "must be next_before of an earlier answer")
    .optional(),
  limit: z.coerce.number().int().min(1).max(WEBHOOK_LIMITS.page).default(50),
});

export const delivery = z
  .object({
    event_id: z.string().openapi({ description: "also the webhook-id header of every attempt" }),
    cursor: z.string(),
    status: z.enum(["pending", "delivered", "dead"]),
    attempts: z.number().int(),
    last_attempt_at: z.number().int().nullable(),
    last_status: z.number().int().nullable().openapi({ description: "the receiver's HTTP status; null: no answer" }),
    last_error: z.string().nullable(),
    next_attempt_at: z.number().int().nullable().openapi({ description: "pending only: the latest the next attempt starts" }),
    delivered_at: z.number().int().nullable(),
  })
  .openapi("WebhookDelivery");

export const deliveryPage = z.object({ result: z.array(delivery), next_before: z.string().nullable() }).openapi("WebhookDeliveryPage");
