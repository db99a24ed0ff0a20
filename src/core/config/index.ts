// A tenant's settings: the entry points (reads.ts reads them, rules.ts says what they may be).
import { eq, sql } from "drizzle-orm";
import { tenantConfig } from "../../db/schema";
import { eventStatement } from "../events/writes";
import { batch, type Scope } from "../shared/context";
import { CoreError } from "../shared/errors";
import { RACE_TRIES } from "../shared/preconditions";
import { checkVersion, staleVersion } from "../shared/versions";
import { forgetHeldSettings, loadConfig, loadSettings } from "./reads";
import { merge, type SettingsPatch, settingsPatchSchema, type TenantSettings } from "./rules";

// What surfaces use of the domain code, through this entry point.
export { heldSettings, loadConfig, loadSettings } from "./reads";
export type { TenantSettings } from "./rules";
export { settingsPatchSchema, tenantSettingsSchema } from "./rules";

/** How many times a change meets another one landing first before it gives up (each try reads the settings again). */

/**
 * Change the settings given; with If-Match (scope.expect), only at a version it names. The settings after, and their
 * version. The whole settings are stored as one value, so each change is written only over the version it merged
 * into: one that meets another change landing first merges again, rather than writing over it (changes of different
 * settings sent at once all land). With If-Match it answers 412 instead.
 */
export async function updateSettings(scope: Scope, patch: SettingsPatch): Promise<{ settings: TenantSettings; version: number }> {
  const parsed = settingsPatchSchema.safeParse(patch);
  if (!parsed.success) {
    throw new CoreError(
      "invalid",
      "invalid configuration",
      parsed.error.issues.map((i) => ({ field: i.path.join("."), message: i.message })),
    );
  }
  for (let tries = 1; ; tries++) {
    const current = await loadConfig(scope.db, scope.tenantId);
    checkVersion(scope.expect, current.version, "the tenant's config");
    const written = await writeSettings(scope, current, merge(current.settings, parsed.data));
    if (written) return written;
    if (scope.expect) throw staleVersion("the tenant's config", (await loadConfig(scope.db, scope.tenantId)).version);
    if (tries === RACE_TRIES) {
      throw new CoreError("conflict", `the tenant's config changed ${tries} times while this change was being written: send it again`);
    }
  }
}

/** The merged settings written over the version they were merged into; undefined: another change landed first. */
async function writeSettings(
  scope: Scope,
  current: { settings: TenantSettings; version: number },
  next: TenantSettings,
): Promise<{ settings: TenantSettings; version: number } | undefined> {
  const now = Date.now();
  const text = JSON.stringify(next);
  // A change that changes nothing records nothing (no new version, no event).
  if (text === JSON.stringify(current.settings)) return { settings: next, version: current.version };
  const upsert = scope.db
    .insert(tenantConfig)
    .values({ tenantId: scope.tenantId, settings: text, updatedAt: now, version: 1 })
    .onConflictDoUpdate({
      target: tenantConfig.tenantId,
      set: { settings: text, updatedAt: now, version: sql`${tenantConfig.version} + 1` },
      setWhere: eq(tenantConfig.version, current.version),
    })
    .returning({ version: tenantConfig.version });
  const [written] = await batch(scope.db, [
    upsert.getSQL(),
    // Recorded only if the upsert wrote (changes() is its count, in the same batch).
    eventStatement(
      scope,
      "config.update",
      { type: "config", id: scope.tenantId },
      { before: current.settings, after: next },
      now,
      sql`changes() = 1`,
    ),
  ]);
  const row = written!.results[0] as { version: number } | undefined;
  if (!row) return undefined;
  // This isolate builds claims and counts requests with the new settings at once.
  forgetHeldSettings(scope.tenantId);
  return { settings: next, version: row.version };
}

/** The seed-001 surface's switch: with groups disabled for the tenant, its group endpoints answer 403. */
export async function assertGroupsEnabled(scope: Scope) {
  if (!(await loadSettings(scope.db, scope.tenantId)).groupsEnabled) {
    throw new CoreError(
      "forbidden",
      'groups are disabled for this tenant; enable them with POST /resources/groups/v1/config {"enabled": true}',
    );
  }
}
