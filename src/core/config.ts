import { eq } from "drizzle-orm";
import { z } from "zod";
import { tenantConfig } from "../db/schema";
import type { Db, Scope } from "./context";
import { CoreError } from "./errors";

// A tenant's settings. Stored whole in D1; every field has a default, so a tenant
// with no row runs on the defaults.
export const claimSettingsSchema = z.object({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/).default("groups"),
  values: z.enum(["names", "ids"]).default("names"),
  overageLimit: z.number().int().min(1).max(10_000).default(200),
  includeInherited: z.boolean().default(true),
});

export const tenantSettingsSchema = z.object({
  groupsEnabled: z.boolean().default(true),
  rolesOnGroupsEnabled: z.boolean().default(true),
  maxMembersPerGroup: z.number().int().min(1).max(10_000_000).default(1_000_000),
  maxGroupsPerUser: z.number().int().min(1).max(1_000_000).default(10_000),
  maxHierarchyDepth: z.number().int().min(1).max(256).default(32),
  claim: claimSettingsSchema.default(claimSettingsSchema.parse({})),
});

export type TenantSettings = z.infer<typeof tenantSettingsSchema>;
export type SettingsPatch = z.input<typeof tenantSettingsSchema>;

export const DEFAULT_SETTINGS: TenantSettings = tenantSettingsSchema.parse({});

export async function loadSettings(db: Db, tenantId: string): Promise<TenantSettings> {
  const row = await db.select().from(tenantConfig).where(eq(tenantConfig.tenantId, tenantId)).get();
  return parseStored(row?.settings);
}

export function parseStored(text: string | undefined | null): TenantSettings {
  if (!text) return DEFAULT_SETTINGS;
  return tenantSettingsSchema.parse(JSON.parse(text));
}

/** Merge a partial update into the tenant's settings (claim settings merge by key). */
export async function updateSettings(scope: Scope, patch: unknown): Promise<TenantSettings> {
  const current = await loadSettings(scope.db, scope.tenantId);
  const input = (patch ?? {}) as Record<string, unknown>;
  const merged = {
    ...current,
    ...input,
    claim: { ...current.claim, ...((input.claim as object | undefined) ?? {}) },
  };
  const parsed = tenantSettingsSchema.safeParse(merged);
  if (!parsed.success) {
    throw new CoreError(
      "invalid",
      "invalid configuration",
      parsed.error.issues.map((i) => ({ field: i.path.join("."), message: i.message })),
    );
  }
  const now = Date.now();
  await scope.db
    .insert(tenantConfig)
    .values({ tenantId: scope.tenantId, settings: JSON.stringify(parsed.data), updatedAt: now })
    .onConflictDoUpdate({ target: tenantConfig.tenantId, set: { settings: JSON.stringify(parsed.data), updatedAt: now } });
  return parsed.data;
}
