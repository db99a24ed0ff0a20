// A tenant's settings: the entry points (reads.ts reads them, rules.ts says what they may be).
import { tenantConfig } from "../../db/schema";
import type { Scope } from "../shared/context";
import { CoreError } from "../shared/errors";
import { forgetHeldSettings, loadSettings } from "./reads";
import { merge, type SettingsPatch, settingsPatchSchema, type TenantSettings } from "./rules";

// What surfaces use of the domain code, through this entry point.
export { heldSettings, loadSettings } from "./reads";
export type { TenantSettings } from "./rules";
export { settingsPatchSchema, tenantSettingsSchema } from "./rules";

export async function updateSettings(scope: Scope, patch: SettingsPatch): Promise<TenantSettings> {
  const parsed = settingsPatchSchema.safeParse(patch);
  if (!parsed.success) {
    throw new CoreError(
      "invalid",
      "invalid configuration",
      parsed.error.issues.map((i) => ({ field: i.path.join("."), message: i.message })),
    );
  }
  const next = merge(await loadSettings(scope.db, scope.tenantId), parsed.data);
  const now = Date.now();
  const text = JSON.stringify(next);
  await scope.db
    .insert(tenantConfig)
    .values({ tenantId: scope.tenantId, settings: text, updatedAt: now })
    .onConflictDoUpdate({ target: tenantConfig.tenantId, set: { settings: text, updatedAt: now } });
  // This isolate builds claims and counts requests with the new settings at once.
  forgetHeldSettings(scope.tenantId);
  return next;
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
