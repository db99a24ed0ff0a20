// zod as @hono/zod-openapi extends it: these schemas are described in /openapi.json, and
// zod 4 gives .openapi() only to schemas made after the extension loaded.
import { z } from "@hono/zod-openapi";

// A tenant's settings: stored whole in D1 as JSON over these defaults, so a tenant
// with no row runs on the defaults and a setting added later needs no migration.
export const claimSettingsSchema = z.object({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "must be a claim name such as groups or app_groups"),
  values: z.enum(["names", "ids"]),
  overageLimit: z.number().int().min(1).max(10_000),
  includeInherited: z.boolean(),
});

const perMinute = z.number().int().min(1).max(1_000_000);
/** Requests per minute: each budget is counted apart, so a bulk sync (SCIM, analytics) never starves interactive calls. */
export const rateLimitsSchema = z.object({
  /** The native API, seeds 001 and 004: the tenant's interactive calls. */
  requestsPerMinute: perMinute,
  /** Analytics ingest (seeds 002, 003, the Segment routes). */
  analyticsPerMinute: perMinute,
  scimPerMinute: perMinute,
  /** Each API key of the tenant, on top of its budget. */
  perApiKeyPerMinute: perMinute,
});
export type RateLimits = z.infer<typeof rateLimitsSchema>;

const settingsShape = {
  groupsEnabled: z.boolean(),
  rolesOnGroupsEnabled: z.boolean(),
  maxMembersPerGroup: z.number().int().min(1).max(10_000_000),
  maxGroupsPerUser: z.number().int().min(1).max(1_000_000),
  maxHierarchyDepth: z.number().int().min(1).max(256),
  /** How long the change stream (and each group's audit) keeps an event. */
  eventRetentionDays: z.number().int().min(1).max(3_650),
  claim: claimSettingsSchema,
  rateLimits: rateLimitsSchema,
};
export const tenantSettingsSchema = z.object(settingsShape);
export type TenantSettings = z.infer<typeof tenantSettingsSchema>;

/**
 * Claims a token's issuer owns (JWT's registered claims, OpenID Connect's ID token claims,
 * Okta's) or that this service reads from a token (tenant_id, scope, roles): the groups claim
 * must never take one of their names. The token hook would try to overwrite them (Okta lets a
 * hook change custom and standard profile claims only), and as `roles` group names would
 * become the role keys this service reads.
 */
export const RESERVED_CLAIM_NAMES: readonly string[] = [
  ...["iss", "sub", "aud", "exp", "nbf", "iat", "jti"],
  ...["auth_time", "nonce", "acr", "amr", "azp", "at_hash", "c_hash", "sid"],
  ...["cid", "uid", "ver", "scp"],
  ...["tenant_id", "scope", "roles"],
];

const claimPatchSchema = claimSettingsSchema
  .extend({
    name: claimSettingsSchema.shape.name.refine((name) => !RESERVED_CLAIM_NAMES.includes(name.toLowerCase()), {
      message: `must not be a claim the token's issuer or this service owns (${RESERVED_CLAIM_NAMES.join(", ")})`,
    }),
  })
  .partial()
  .strict();

/** A partial update: any subset of the settings, claim settings by key. */
export const settingsPatchSchema = z
  .object({
    groupsEnabled: settingsShape.groupsEnabled.optional(),
    rolesOnGroupsEnabled: settingsShape.rolesOnGroupsEnabled.optional(),
    maxMembersPerGroup: settingsShape.maxMembersPerGroup.optional(),
    maxGroupsPerUser: settingsShape.maxGroupsPerUser.optional(),
    maxHierarchyDepth: settingsShape.maxHierarchyDepth.optional(),
    eventRetentionDays: settingsShape.eventRetentionDays.optional(),
    claim: claimPatchSchema.optional(),
    rateLimits: rateLimitsSchema.partial().strict().optional(),
  })
  .strict();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

export const DEFAULT_SETTINGS: TenantSettings = {
  groupsEnabled: true,
  rolesOnGroupsEnabled: true,
  maxMembersPerGroup: 1_000_000,
  maxGroupsPerUser: 10_000,
  maxHierarchyDepth: 32,
  eventRetentionDays: 30,
  // 200 groups before the claim becomes an overage pointer, as identity providers do.
  claim: { name: "groups", values: "names", overageLimit: 200, includeInherited: true },
  // Well above what one client sends, well below what would crowd out other tenants.
  rateLimits: { requestsPerMinute: 60_000, analyticsPerMinute: 60_000, scimPerMinute: 30_000, perApiKeyPerMinute: 30_000 },
};

/** Keys given as undefined mean "not given", not "clear". */
const given = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

export function merge(base: TenantSettings, patch: Partial<TenantSettings> | SettingsPatch): TenantSettings {
  return {
    ...base,
    ...given(patch),
    claim: { ...base.claim, ...given(patch.claim ?? {}) },
    rateLimits: { ...base.rateLimits, ...given(patch.rateLimits ?? {}) },
  } as TenantSettings;
}

export function parseStored(text: string | undefined | null): TenantSettings {
  if (!text) return DEFAULT_SETTINGS;
  return tenantSettingsSchema.parse(merge(DEFAULT_SETTINGS, JSON.parse(text)));
}
