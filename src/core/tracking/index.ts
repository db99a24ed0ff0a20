// Analytics calls (seeds 002, 003 and the Segment spec) after their surface has
// parsed them: group calls go to each group's coordinator, identify calls upsert the
// user's profile, other calls are counted and acknowledged.

import { sql } from "drizzle-orm";
import { callerOf, coordinatorOf, unwrap } from "../../coordinator/client";
import type { Budget } from "../shared/budget";
import type { Scope } from "../shared/context";
import { CoreError } from "../shared/errors";
import { groupBy } from "../shared/group-by";
import { purgeBefore } from "../shared/retention";
import { emailSchema, phoneSchema } from "../shared/validation";
import { createUser, patchUser, rewriteUser, type UserProfile } from "../users";
import type { GroupCall } from "./writes";

export const TRACKING_LIMITS = { events: 1_000, groups: 100 } as const;

/** How far after its arrival an event's time is still believed: clocks drift, and a device's may be wrong by years. */
export const CLOCK_AHEAD_MS = 5 * 60_000;

/**
 * When an event happened, for merging traits by event time: the time it claims, moved by the
 * sender's clock skew when it says when it sent (Segment's sentAt: receivedAt - sentAt, as
 * Segment corrects it). A time still more than CLOCK_AHEAD_MS after the event arrived is not
 * believed and its arrival is used, so one device whose clock is set years ahead cannot pin a
 * trait for good (an older event never overwrites a newer value).
 */
export function eventTime(claimed: number, receivedAt: number, sentAt?: number): number {
  const at = sentAt !== undefined && Number.isFinite(sentAt) ? claimed + (receivedAt - sentAt) : claimed;
  return at > receivedAt + CLOCK_AHEAD_MS ? receivedAt : at;
}

export type TrackedEvent =
  | { index: number; type: "group"; userId: string; groupId: string; traits: Record<string, unknown>; at: number; messageId?: string }
  | { index: number; type: "identify"; userId: string; traits: Record<string, unknown>; at: number; messageId?: string }
  | { index: number; type: "other"; kind: string };

export interface Warning {
  index: number;
  message: string;
}

export interface IngestResult {
  applied: number;
  duplicates: number;
  acknowledged: number;
  warnings: Warning[];
  /** Events that could not be applied (e.g. a group limit), with why. */
  failed: Warning[];
  /** The first refusal that sending again can cure (a tenant's move, writes that kept racing): ingest throws it. */
  transient?: CoreError;
}

/** An event refused: reported with the request's answer, or (a refusal a retry can cure) the answer itself. */
function refused(result: IngestResult, e: CoreError, failed: Warning[]) {
  result.failed.push(...failed);
  if (e.kind === "unavailable") result.transient ??= e;
}

/** The limits of seed 002, checked before anything is applied. */
export function checkTrackingLimits(events: TrackedEvent[]) {
  if (events.length > TRACKING_LIMITS.events) {
    throw new CoreError("invalid", `a request may carry at most ${TRACKING_LIMITS.events} events; this one has ${events.length}`);
  }
  const groups = new Set(events.flatMap((e) => (e.type === "group" ? [e.groupId] : [])));
  if (groups.size > TRACKING_LIMITS.groups) {
    throw new CoreError("invalid", `a request may update at most ${TRACKING_LIMITS.groups} groups; this one names ${groups.size}`);
  }
}

export async function ingest(scope: Scope, events: TrackedEvent[]): Promise<IngestResult> {
  checkTrackingLimits(events);
  const result: IngestResult = { applied: 0, duplicates: 0, acknowledged: 0, warnings: [], failed: [] };
  const byGroup = new Map<string, GroupCall[]>();
  const identifies: Extract<TrackedEvent, { type: "identify" }>[] = [];
  for (const e of events) {
    if (e.type === "group") {
      const calls = byGroup.get(e.groupId) ?? [];
      calls.push({ index: e.index, userId: e.userId, traits: e.traits, at: e.at, messageId: e.messageId });
      byGroup.set(e.groupId, calls);
    } else if (e.type === "identify") identifies.push(e);
    else result.acknowledged += 1;
  }
  await Promise.all([
    ...[...byGroup].map(async ([groupId, calls]) => {
      try {
        const o = await unwrap(coordinatorOf(scope, groupId).ingestGroupCalls(callerOf(scope, groupId, "tracking"), calls));
        result.applied += o.applied;
        result.duplicates += o.duplicates;
        result.warnings.push(...o.warnings);
      } catch (e) {
        if (!(e instanceof CoreError)) throw e;
        refused(
          result,
          e,
          calls.map((c) => ({ index: c.index, message: `group '${groupId}': ${e.message}` })),
        );
      }
    }),
    applyIdentifies(scope, identifies, result),
  ]);
  // A 200 that reports an event as failed is final for an SDK (it retries only a 5xx): an event a retry would apply
  // fails the request, and the retry's applied events are known by their messageIds.
  if (result.transient) {
    throw new CoreError(
      "unavailable",
      `some of this request's events could not be applied now (${result.transient.message}): ` +
        "send the request again; events it already applied are recognised by their messageId",
    );
  }
  result.warnings.sort((a, b) => a.index - b.index);
  result.failed.sort((a, b) => a.index - b.index);
  return result;
}

/** Traits → profile: known fields to their columns, everything else into custom_data (merged). */
function profileOf(traits: Record<string, unknown>, existing: Record<string, unknown>): UserProfile {
  const rest: Record<string, unknown> = { ...existing };
  const profile: UserProfile = {};
  const str = (v: unknown) => (typeof v === "string" && v.trim() ? v.trim() : undefined);
  for (const [key, value] of Object.entries(traits)) {
    if (key === "email" && emailSchema.safeParse(value).success) profile.email = value as string;
    else if (key === "phone" && phoneSchema.safeParse(value).success) profile.phoneNumber = value as string;
    else if (key === "name" && str(value)) profile.name = str(value)!.slice(0, 200);
    else if ((key === "firstName" || key === "first_name") && str(value)) profile.givenName = str(value)!.slice(0, 200);
    else if ((key === "lastName" || key === "last_name") && str(value)) profile.familyName = str(value)!.slice(0, 200);
    else rest[key] = value;
  }
  profile.customData = rest;
  return profile;
}

async function applyIdentifies(scope: Scope, events: Extract<TrackedEvent, { type: "identify" }>[], result: IngestResult) {
  if (events.length === 0) return;
  const ids = events.flatMap((e) => (e.messageId ? [e.messageId] : []));
  const seen = new Set(
    (
      await scope.db.all<{ message_id: string }>(
        sql`SELECT t.message_id FROM json_each(${JSON.stringify(ids)}) j CROSS JOIN tracking_messages t ON t.tenant_id = ${scope.tenantId} AND t.message_id = j.value`,
      )
    ).map((r) => r.message_id),
  );
  const fresh = events.filter((e) => !e.messageId || !seen.has(e.messageId));
  result.duplicates += events.length - fresh.length;
  // Per user, traits merge in event-time order, so the newest value of each trait wins.
  const byUser = groupBy(
    [...fresh].sort((a, b) => a.at - b.at),
    (e) => e.userId,
  );
  for (const [userId, list] of byUser) {
    const traits = Object.assign({}, ...list.map((e) => e.traits)) as Record<string, unknown>;
    try {
      await upsertProfile(scope, userId, traits);
      result.applied += list.length;
    } catch (e) {
      if (!(e instanceof CoreError)) throw e;
      refused(
        result,
        e,
        list.map((x) => ({ index: x.index, message: `user '${userId}': ${e.message}` })),
      );
    }
  }
  const applied = fresh.flatMap((e) => (e.messageId && !result.failed.some((f) => f.index === e.index) ? [e.messageId] : []));
  if (applied.length > 0) {
    await scope.db.run(sql`INSERT INTO tracking_messages (tenant_id, message_id, received_at)
      SELECT ${scope.tenantId}, value, ${Date.now()} FROM json_each(${JSON.stringify(applied)}) WHERE true ON CONFLICT DO NOTHING`);
  }
}

/** Merge the traits into the user's profile (creating the user if need be), over the user as it is when written. */
async function upsertProfile(scope: Scope, userId: string, traits: Record<string, unknown>) {
  await rewriteUser(scope, userId, async (existing, at) => {
    const profile = profileOf(traits, existing ? (JSON.parse(existing.customData) as Record<string, unknown>) : {});
    if (existing) await patchUser(at, userId, profile);
    else await createUser(at, userId, profile);
  });
}

/** messageIds are kept 8 days: retries within 7 days are always recognised. */
export const SEEN_MESSAGES_KEPT_MS = 8 * 24 * 3600 * 1000;

/** Forget messageIds older than the retention (the daily cron). */
export const purgeSeenMessages = (db: Scope["db"], now = Date.now(), budget?: Budget) =>
  purgeBefore(db, "tracking_messages", "received_at", now - SEEN_MESSAGES_KEPT_MS, undefined, budget);
