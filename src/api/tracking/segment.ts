// The Segment HTTP tracking API (POST /v1/batch, /v1/group, /v1/identify, ...), so
// Segment and RudderStack SDKs can point here unchanged. SDKs drop a whole batch on a
// 400 and retry a 5xx with the same messageIds, so one bad event is dropped and
// reported while its neighbours are applied with a 200.
import { type Context, Hono } from "hono";
import { cors } from "hono/cors";
import { z } from "zod";
import { authenticate, requireScope } from "../../auth/middleware";
import { CoreError } from "../../core/shared/errors";
import { TRACKING_SCOPES } from "../../core/shared/scopes";
import { idSchema, JSON_DEPTH_MESSAGE, withinJsonDepth } from "../../core/shared/validation";
import { eventTime, ingest, type TrackedEvent } from "../../core/tracking";
import type { AppEnv } from "../../http/app-env";
import { asCoreError } from "../../http/errors";
import { limitBody } from "../../http/middleware";
import { postOnly } from "../../http/unknown-route";
import { segmentWriteKey } from "./auth";
import { readJsonBody } from "./body";

export function segmentError(c: Context<AppEnv>, err: unknown) {
  const e = asCoreError(err);
  if (!e) {
    return c.json({ success: false, message: "internal error" }, 500);
  }
  return c.json({ success: false, message: e.message }, e.status);
}

// SDKs send ids as strings, sometimes numbers.
const stringOrNumber = z.union([z.string(), z.number()]);
const id = stringOrNumber.transform(String).pipe(idSchema);
/** An id the SDK may not know yet: analytics.js sends null for it, RudderStack's browser SDK an empty string. */
const unknownOrId = stringOrNumber
  .transform((v) => (v === "" ? undefined : String(v)))
  .pipe(idSchema.optional())
  .nullish();
const time = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "must be an ISO 8601 date-time");

const base = z.looseObject({
  userId: unknownOrId,
  anonymousId: unknownOrId,
  messageId: z.string().min(1).max(200).optional(),
  timestamp: time.optional(),
  originalTimestamp: time.optional(),
  sentAt: time.optional(),
  traits: z.record(z.string(), z.unknown()).optional(),
  context: z.record(z.string(), z.unknown()).optional(),
});
const groupEvent = base.extend({ type: z.literal("group"), groupId: id });
const identifyEvent = base.extend({ type: z.literal("identify") });
const otherEvent = base.extend({ type: z.enum(["track", "page", "screen", "alias"]) });
export const anyEvent = z.discriminatedUnion("type", [groupEvent, identifyEvent, otherEvent], {
  error: "type must be one of group, identify, track, page, screen, alias",
});

interface Dropped {
  index: number;
  messageId?: string;
  errors: string[];
}

function parseEvent(raw: unknown, index: number, receivedAt: number, batchSentAt?: number): TrackedEvent | Dropped {
  const parsed = anyEvent.safeParse(raw);
  const messageId = typeof (raw as { messageId?: unknown })?.messageId === "string" ? (raw as { messageId: string }).messageId : undefined;
  if (!parsed.success)
    return { index, messageId, errors: parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "event"}: ${i.message}`) };
  if (!withinJsonDepth(raw)) return { index, messageId, errors: [`event: ${JSON_DEPTH_MESSAGE}`] };
  const e = parsed.data;
  // Segment's timestamp, or RudderStack's originalTimestamp; else when it arrived. sentAt (the event's, or its batch's) corrects the sender's clock.
  const claimed = e.timestamp ?? e.originalTimestamp;
  const at = claimed === undefined ? receivedAt : eventTime(Date.parse(claimed), receivedAt, e.sentAt ? Date.parse(e.sentAt) : batchSentAt);
  const traits = e.traits ?? (e.context?.traits as Record<string, unknown> | undefined) ?? {};
  if (e.type === "group") {
    const userId = e.userId ?? e.anonymousId;
    if (!userId) return { index, messageId, errors: ["userId or anonymousId is required for a group call"] };
    return { index, type: "group", userId, groupId: e.groupId, traits, at, messageId };
  }
  if (e.type === "identify" && e.userId) return { index, type: "identify", userId: e.userId, traits, at, messageId };
  return { index, type: "other", kind: e.type };
}

/** Record the events (one bad event is dropped and reported, its neighbours applied); what the Segment routes answer. */
export async function recordEvents(c: Context<AppEnv>, events: unknown[], batchSentAt?: unknown) {
  if (events.length === 0) throw new CoreError("invalid", "the request carries no events");
  const receivedAt = Date.now();
  // A batch's sentAt that is not a date-time corrects nothing.
  const sentAt = typeof batchSentAt === "string" ? Date.parse(batchSentAt) : undefined;
  const parsed = events.map((raw, i) => parseEvent(raw, i, receivedAt, Number.isNaN(sentAt) ? undefined : sentAt));
  const valid = parsed.filter((p): p is TrackedEvent => "type" in p);
  const dropped = parsed.filter((p): p is Dropped => !("type" in p));
  if (dropped.length > 0) console.warn(JSON.stringify({ msg: "segment events dropped", tenant: c.var.scope.tenantId, dropped }));
  const r = await ingest(c.var.scope, valid);
  // track, page, screen and alias are acknowledged and counted here, not stored.
  console.log(
    JSON.stringify({
      msg: "segment batch",
      tenant: c.var.scope.tenantId,
      applied: r.applied,
      duplicates: r.duplicates,
      acknowledged: r.acknowledged,
      dropped: dropped.length,
    }),
  );
  if (r.failed.length > 0)
    console.warn(JSON.stringify({ msg: "segment events not applied", tenant: c.var.scope.tenantId, failed: r.failed }));
  const report = [...dropped, ...r.failed.map((f) => ({ index: f.index, errors: [f.message] }))].sort((a, b) => a.index - b.index);
  return {
    success: true as const,
    ...(report.length > 0 ? { dropped: report } : {}),
    ...(r.warnings.length > 0 ? { warnings: r.warnings } : {}),
  };
}

/** A batch's body, {"batch": [...], "sentAt"?}: its events are recorded as recordEvents() records them. */
export async function recordBatch(c: Context<AppEnv>) {
  const body = (await readJsonBody(c)) as { batch?: unknown; sentAt?: unknown };
  if (!body || !Array.isArray(body.batch)) throw new CoreError("invalid", 'the body must be {"batch": [...]}');
  return c.json(await recordEvents(c, body.batch, body.sentAt));
}

/** The single-event routes, one per Segment call type. */
export const TYPES = ["group", "identify", "track", "page", "screen", "alias"] as const;

/** Each route's paths: Segment's own, and the one-letter one its browser SDK (analytics.js) posts to (/v1/t, /v1/b, ...). */
export const SEGMENT_PATHS = {
  batch: ["/batch", "/b"],
  ...Object.fromEntries(TYPES.map((t) => [t, [`/${t}`, `/${t[0]}`]])),
} as Record<"batch" | (typeof TYPES)[number], [string, string]>;

/**
 * Browsers may call these routes from any origin, as Segment's own API allows: the write key
 * travels in the Authorization header or the body, never in a cookie, so no origin gains
 * anything the key does not already give. The preflight answers before the credential check.
 */
export const browsers = cors({
  origin: "*",
  allowMethods: ["POST"],
  // X-Retry-Count: analytics.js; AnonymousId (the visitor's id in base64) and SentAt (also in the body): RudderStack's.
  allowHeaders: ["Authorization", "Content-Type", "X-Retry-Count", "AnonymousId", "SentAt"],
  // The SDK waits as long as a 429's Retry-After says, if the page may read it.
  exposeHeaders: ["Retry-After", "X-Request-Id"],
  maxAge: 86_400,
});

/** Mounted at /v1 next to the native API, so its middleware is per route, not "*". */
export function segmentRoutes() {
  const app = new Hono<AppEnv>();
  const credential = authenticate({ source: segmentWriteKey, budget: "analytics" });
  const guard = [browsers, limitBody(), credential, requireScope(...TRACKING_SCOPES)] as const;
  app.onError((err, c) => segmentError(c, err));
  for (const path of SEGMENT_PATHS.batch) app.post(path, ...guard, recordBatch);
  for (const type of TYPES) {
    for (const path of SEGMENT_PATHS[type]) {
      app.post(path, ...guard, async (c) => {
        const body = await readJsonBody(c);
        if (!body || typeof body !== "object" || Array.isArray(body)) throw new CoreError("invalid", "the body must be one event object");
        return c.json(await recordEvents(c, [{ ...body, type }]));
      });
    }
  }
  // Reached by every other method (the POST routes above answer first); a browser's preflight gets
  // its answer, and for the rest the credential is checked first, as everywhere.
  for (const path of Object.values(SEGMENT_PATHS).flat()) {
    app.all(path, browsers, credential, (c) => {
      throw postOnly(c);
    });
  }
  return app;
}
