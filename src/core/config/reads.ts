import { eq } from "drizzle-orm";
import { tenantConfig } from "../../db/schema";
import type { Db } from "../shared/context";
import { parseStored, type TenantSettings } from "./rules";

export async function loadSettings(db: Db, tenantId: string): Promise<TenantSettings> {
  const row = await db.select().from(tenantConfig).where(eq(tenantConfig.tenantId, tenantId)).get();
  return parseStored(row?.settings);
}
