// The coordinator's queue of users whose claims must be refreshed, in its own storage,
// worked off by its alarm, which hands them to their claims writers (claims-writer.ts). A mutation writes its users here *before* its D1 batch
// (MutationMeta.beforeCommit), held so this object's alarm leaves them alone until the
// mutation is over; then they are released to the alarm. If the object dies in between
// (crash, eviction, kill -9 of a local server) the entries survive in storage, the next
// instance holds nothing, and its alarm refreshes them from D1: the claim ends equal to
// D1 whether or not the batch committed.
import type { Env } from "../env";
import { writeClaimsSoon } from "./claims-writers";

/** Users per queue entry, and per alarm run: handing 200 users on is at most one call per claims writer. */
export const REFRESH_CHUNK = 200;
const RETRY_DELAY_MS = 2_000;
/** A held entry is looked at again this soon (the mutation holding it is still running). */
const HELD_RECHECK_MS = 1_000;

interface QueuedRefresh {
  tenantId: string;
  userIds: string[];
}

export class ClaimsQueue {
  private held = new Set<string>();

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly env: Env,
  ) {}

  /** Queue these users' refresh, held until release(). */
  async hold(tenantId: string, userIds: string[]) {
    if (userIds.length === 0) return;
    const next = ((await this.storage.get<number>("qseq")) ?? 0) + 1;
    const entries: Record<string, QueuedRefresh> = {};
    let k = next;
    for (let i = 0; i < userIds.length; i += REFRESH_CHUNK) {
      entries[`q:${String(k++).padStart(12, "0")}`] = { tenantId, userIds: userIds.slice(i, i + REFRESH_CHUNK) };
    }
    const keys = Object.keys(entries);
    for (const key of keys) this.held.add(key);
    // storage.put of many keys is capped at 128 per call.
    for (let i = 0; i < keys.length; i += 128) {
      await this.storage.put(Object.fromEntries(keys.slice(i, i + 128).map((key) => [key, entries[key]])));
    }
    await this.storage.put("qseq", k - 1);
    // Armed now, so a crash before release() still ends in a refresh: an alarm armed for later (the next expiry's) is brought forward.
    const by = Date.now() + HELD_RECHECK_MS;
    const armed = await this.storage.getAlarm();
    if (armed === null || armed > by) await this.storage.setAlarm(by);
  }

  /** The mutation changed fewer users than it held: the others' refresh is dropped. */
  async keepOnly(userIds: Iterable<string>) {
    const keep = new Set(userIds);
    for (const key of this.held) {
      const entry = await this.storage.get<QueuedRefresh>(key);
      if (!entry) continue;
      const left = entry.userIds.filter((u) => keep.has(u));
      if (left.length === entry.userIds.length) continue;
      if (left.length > 0) await this.storage.put(key, { ...entry, userIds: left });
      else {
        await this.storage.delete(key);
        this.held.delete(key);
      }
    }
  }

  /** The mutation is over (committed or not): its entries go to the alarm now. */
  async release() {
    if (this.held.size === 0) return;
    this.held.clear();
    await this.storage.setAlarm(Date.now());
  }

  async pending(): Promise<number> {
    const entries = await this.storage.list<QueuedRefresh>({ prefix: "q:" });
    let n = 0;
    for (const e of entries.values()) n += e.userIds.length;
    return n;
  }

  /** The alarm's work: one entry (one chunk) that is not held; re-armed at once while more wait. */
  async work() {
    let after: string | undefined;
    for (;;) {
      const batch = await this.storage.list<QueuedRefresh>({ prefix: "q:", limit: 5, ...(after ? { startAfter: after } : {}) });
      if (batch.size === 0) {
        if (this.held.size > 0) await this.storage.setAlarm(Date.now() + HELD_RECHECK_MS);
        return;
      }
      for (const [key, entry] of batch) {
        after = key;
        if (this.held.has(key)) continue;
        try {
          await writeClaimsSoon(this.env, entry.tenantId, entry.userIds);
        } catch (e) {
          // Keep the entry; it is retried on the next alarm rather than lost.
          console.error("handing claims to their writers failed; retrying", e);
          await this.storage.setAlarm(Date.now() + RETRY_DELAY_MS);
          return;
        }
        await this.storage.delete(key);
        if ((await this.storage.list({ prefix: "q:", limit: 1 })).size > 0) await this.storage.setAlarm(Date.now());
        return;
      }
    }
  }
}
