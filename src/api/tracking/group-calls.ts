// POST /api/group (seed 002) and POST /group (seed 003): the whole request is checked
// first; one bad event is a 400 listing it, and nothing is applied.
import { type Context, Hono } from "hono";
import type { z } from "zod";
import { authenticate, requireScope } from "../../auth/middleware";
import { CoreError } from "../../core/shared/errors";
import { TRACKING_SCOPES } from "../../core/shared/scopes";
import { JSON_DEPTH_MESSAGE, withinJsonDepth } from "../../core/shared/validation";
import { checkTrackingLimits, eventTime, ingest, TRACKING_LIMITS, type TrackedEvent } from "../../core/tracking";
import type { AppEnv } from "../../http/app-env";
import { asCoreError } from "../../http/errors";
import { limitBody } from "../../http/middleware";
import { postOnly } from "../../http/unknown-route";
import { readJsonBody } from "./body";
import type { GroupCallEvent } from "./group-call-schemas";

const responseId = () => crypto.randomUUID();

function groupCallError(c: Context<AppEnv>, err: unknown) {
  const e = asCoreError(err);
  if (!e) {
    return c.json({ success: false, response_id: responseId(), message: "internal error" }, 500);
  }
  return c.json({ success: false, response_id: responseId(), message: e.message, errors: e.details }, e.status);
}

function toEvent(e: GroupCallEvent, index: number, receivedAt: number): TrackedEvent {
  return {
    index,
    type: "group",
    userId: e.user_id,
    groupId: (e.group_id ?? e.context?.group_id)!,
    traits: e.traits,
    at: eventTime(Date.parse(e.timestamp), receivedAt),
    messageId: e.message_id,
  };
}

export function groupCallRoutes(eventSchema: z.ZodType<GroupCallEvent>) {
  const app = new Hono<AppEnv>();
  app.onError((err, c) => groupCallError(c, err));
  app.post("/", limitBody(), authenticate({ budget: "analytics" }), requireScope(...TRACKING_SCOPES), async (c) => {
    const body = await readJsonBody(c);
    const list: unknown[] = Array.isArray(body) ? body : [body];
    if (list.length === 0) throw new CoreError("invalid", "the request carries no events");
    if (list.length > TRACKING_LIMITS.events) {
      throw new CoreError("invalid", `a request may carry at most ${TRACKING_LIMITS.events} events; this one has ${list.length}`);
    }
    const errors: { index: number; field: string; message: string }[] = [];
    const events: TrackedEvent[] = [];
    const receivedAt = Date.now();
    list.forEach((raw, index) => {
      const parsed = eventSchema.safeParse(raw);
      if (!withinJsonDepth(raw)) errors.push({ index, field: "event", message: JSON_DEPTH_MESSAGE });
      else if (parsed.success) events.push(toEvent(parsed.data, index, receivedAt));
      else for (const i of parsed.error.issues) errors.push({ index, field: i.path.map(String).join(".") || "event", message: i.message });
    });
    if (errors.length > 0) {
      throw new CoreError(
        "invalid",
        `${new Set(errors.map((e) => e.index)).size} of ${list.length} event(s) are invalid; nothing was applied`,
        errors.slice(0, 100),
      );
    }
    checkTrackingLimits(events);
    const r = await ingest(c.var.scope, events);
    return c.json({
      success: r.failed.length === 0,
      response_id: responseId(),
      message: r.failed.length === 0 ? "Group(s) updated successfully" : `${r.failed.length} event(s) could not be applied`,
      ...(r.warnings.length > 0 ? { warnings: r.warnings } : {}),
      ...(r.failed.length > 0 ? { failed: r.failed } : {}),
      ...(r.duplicates > 0 ? { duplicates: r.duplicates } : {}),
    });
  });
  // Reached by every other method (the POST route above answers first); the credential is checked first, as everywhere.
  app.all("/", authenticate({ budget: "analytics" }), (c) => {
    throw postOnly(c);
  });
  return app;
}
