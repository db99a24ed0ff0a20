import { sql } from "drizzle-orm";
import type { Db } from "../shared/context";
import { parseStored, type TenantSettings } from "./rules";

export async function loadSettings(db: Db, tenantId: string): Promise<TenantSettings> {
  return (await loadConfig(db, tenantId)).settings;
}

/** The tenant's stored config row (none for a tenant that never changed its settings), for a read or a batch. */
export const storedConfigQuery = (tenantId: string) => sql`SELECT settings, version FROM tenant_config WHERE tenant_id = ${tenantId}`;

/** The settings and their version (the config's entity tag; 0 for a tenant that never changed them) of that row. */
export function configOf(row: { settings: string; version: number } | undefined): { settings: TenantSettings; version: number } {
  return { settings: parseStored(row?.settings), version: row?.version ?? 0 };
}

export async function loadConfig(db: Db, tenantId: string): Promise<{ settings: TenantSettings; version: number }> {
  return configOf(await db.get<{ settings: string; version: number }>(storedConfigQuery(tenantId)));
}

// The tenant's settings, held in this isolate for a few seconds, so a claim read or the rate
// limit of a request costs no D1 query. Another isolate sees a change within HELD_MS.
const HELD_MS = 5_000;
const heldInIsolate = new Map<string, { settings: TenantSettings; until: number }>();

export async function heldSettings(db: Db, tenantId: string): Promise<TenantSettings> {
  const held = heldInIsolate.get(tenantId);
  if (held && Date.now() < held.until) return held.settings;
  const settings = await loadSettings(db, tenantId);
  if (heldInIsolate.size > 10_000) heldInIsolate.clear();
  heldInIsolate.set(tenantId, { settings, until: Date.now() + HELD_MS });
  return settings;
}

/** Forget the settings held in this isolate (after they change). */
export function forgetHeldSettings(tenantId: string) {
  heldInIsolate.delete(tenantId);
}
