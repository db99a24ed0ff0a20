// Wire schemas of the change stream (GET /v1/events).
import { z } from "@hono/zod-openapi";
import { EVENT_LIMITS, EVENT_TYPES } from "../../core/events";
import { idSchema } from "../../core/shared/validation";

export const eventQuery = z.object({
  after: z
    .string()
    .regex(/^\d{1,18}$/, "must be a cursor from an earlier answer (digits)")
    .optional()
    .openapi({ description: "next_cursor of an earlier answer (or an event's cursor); none: from the oldest event kept" }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(EVENT_LIMITS.page)
    .default(EVENT_LIMITS.defaultPage)
    .openapi({
      description: `1-${EVENT_LIMITS.page}, default ${EVENT_LIMITS.defaultPage}; a page also stops before about ${EVENT_LIMITS.pageBytes / 1e6} MB of events (its first event always), so it may hold fewer: follow next_cursor while has_more`,
    }),
  types: z
    .string()
    .max(1_000)
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return undefined;
      const asked = s.split(",").map((t) => t.trim());
      const unknown = asked.filter((t) => !(EVENT_TYPES as string[]).includes(t));
      if (unknown.length > 0) {
        ctx.addIssue({ code: "custom", message: `unknown event type(s) ${unknown.join(", ")}; known: ${EVENT_TYPES.join(", ")}` });
        return z.NEVER;
      }
      return asked as (typeof EVENT_TYPES)[number][];
    })
    .openapi({ description: "comma-separated event types", example: "group.members.added,group.members.removed" }),
  group_id: idSchema.optional().openapi({ description: "only events about this group (also as a linked or unlinked child)" }),
  user_id: idSchema.optional().openapi({ description: "only events naming this user" }),
});

const instant = z.iso
  .datetime({ offset: true, message: "must be an ISO 8601 date-time, such as 2026-11-01T00:00:00Z" })
  .transform((s) => Date.parse(s));

export const auditQuery = eventQuery
  .omit({ types: true, group_id: true, user_id: true })
  .extend({
    type: eventQuery.shape.types.openapi({ description: "comma-separated event types" }),
    actor: z.string().min(1).max(256).optional().openapi({ description: "the credential subject (or API key id) that made the change" }),
    since: instant.optional().openapi({ description: "changes at or after this time (ISO 8601)" }),
    until: instant.optional().openapi({ description: "changes before this time (ISO 8601)" }),
  })
  .refine((q) => q.since === undefined || q.until === undefined || q.since < q.until, {
    message: "must be later than since (the window is since ≤ time < until)",
    path: ["until"],
  });

export const changeEvent = z
  .object({
    id: z.string(),
    cursor: z.string(),
    type: z.enum(EVENT_TYPES),
    occurred_at: z.string(),
    actor: z.string().nullable(),
    source: z
      .string()
      .nullable()
      .openapi({ description: "the surface or mechanism: native, seed-001, conversation-groups, scim, analytics" }),
    group_id: z.string().nullable(),
    user_ids: z.array(z.string()).optional(),
    before: z.unknown().optional(),
    after: z.unknown().optional(),
    detail: z.record(z.string(), z.unknown()),
  })
  .openapi("ChangeEvent");

export const eventPage = z.object({
  result: z.array(changeEvent),
  next_cursor: z.string().openapi({ description: "where to resume (send as after); set even when nothing new came" }),
  has_more: z.boolean().openapi({ description: "more events after next_cursor are already there" }),
});
