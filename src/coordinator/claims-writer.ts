// The one writer of a set of users' claims in KV: one Durable Object per tenant and shard
// (claims-writers.ts picks the shard from the user id). Group coordinators, the user
// deletion and claim reads that miss hand users here; each user waits once however many
// hand it in, and its key is written at most once per second (KV refuses more). A write
// reads D1 when it runs, after every mutation that handed the user in had committed, so
// the last write of a key is the truth; see ARCHITECTURE.md "Claims".
import { DurableObject } from "cloudflare:workers";
import { writeClaims } from "../core/claims/writes";
import type { Env } from "../env";

/** Users per alarm run: one D1 batch (claims/reads.ts readClaimsState) and 200 KV calls, under Cloudflare's 1,000 subrequests per invocation. */
export const WRITE_CHUNK = 200;
/** KV allows one write to a key per second. */
export const KEY_WRITE_GAP_MS = 1_000;
/**
 * A run starts this long after the first user handed in, so the users a burst hands in
 * (a batch over many groups: each group's coordinator hands its own) are written by one
 * run, one D1 read, rather than one run each.
 */
export const GATHER_MS = 50;
/** A refused or failed write is retried after this long, doubled per attempt up to MAX_RETRY_MS. */
const RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;
/** How many waiting users one run looks at to find those due. */
const SCAN = 1_000;

interface Waiting {
  /** Changes whenever the user is handed in again, so a write that began before is not taken as covering it. */
  seq: number;
  due: number;
  attempts: number;
}

export class ClaimsWriter extends DurableObject<Env> {
  /** When this object last wrote each user's key (a new instance starts empty: a refused write is retried). */
  private readonly lastWrite = new Map<string, number>();
  private seq = Date.now() * 1_000;

  /** Write these users' claims from D1, no sooner than delayMs from now; false (nothing kept) for another tenant's users. */
  async enqueue(tenantId: string, userIds: string[], delayMs = 0): Promise<boolean> {
    if (userIds.length === 0) return true;
    const due = Date.now() + delayMs;
    // An object writes one tenant's keys: its name says which (claims-writers.ts), and this holds it to that.
    const owner = await this.ctx.storage.get<string>("tenant");
    if (owner !== undefined && owner !== tenantId) return false;
    if (owner === undefined) await this.ctx.storage.put("tenant", tenantId);
    // storage.put of many keys is capped at 128 per call.
    for (let i = 0; i < userIds.length; i += 128) {
      const entries: Record<string, Waiting> = {};
      for (const u of userIds.slice(i, i + 128)) entries[`w:${u}`] = { seq: this.seq++, due, attempts: 0 };
      await this.ctx.storage.put(entries);
    }
    await this.armBy(due + GATHER_MS);
    return true;
  }

  /** How many users wait for their claim to be written. */
  async pending(): Promise<number> {
    let n = 0;
    let after: string | undefined;
    for (;;) {
      const page = await this.ctx.storage.list({ prefix: "w:", limit: SCAN, ...(after ? { startAfter: after } : {}) });
      n += page.size;
      if (page.size < SCAN) return n;
      after = [...page.keys()].at(-1);
    }
  }

  override async alarm() {
    const tenantId = await this.ctx.storage.get<string>("tenant");
    if (!tenantId) return;
    const now = Date.now();
    const taken = new Map<string, Waiting>();
    for (const [key, w] of await this.ctx.storage.list<Waiting>({ prefix: "w:", limit: SCAN })) {
      if (taken.size < WRITE_CHUNK && this.readyAt(key, w) <= now) taken.set(key, w);
    }
    let refused = new Set<string>();
    if (taken.size > 0) {
      const users = [...taken.keys()].map((k) => k.slice(2));
      try {
        refused = new Set((await writeClaims(this.env, tenantId, users)).refused);
      } catch (e) {
        console.error("claims write failed; retrying", e);
        refused = new Set(users);
      }
      const wrote = Date.now();
      for (const u of users) this.lastWrite.set(u, wrote);
      await this.settle(taken, refused, wrote);
    }
    this.forgetOldWrites(now);
    await this.armForNext();
  }

  private readyAt(key: string, w: Waiting) {
    return Math.max(w.due, (this.lastWrite.get(key.slice(2)) ?? 0) + KEY_WRITE_GAP_MS);
  }

  /** Drop what was written; keep, with a later due time, what was refused; keep as is what was handed in again meanwhile. */
  private async settle(taken: Map<string, Waiting>, refused: Set<string>, wrote: number) {
    const keys = [...taken.keys()];
    for (let i = 0; i < keys.length; i += 128) {
      // Only storage calls from here to the delete: no other call on this object can interleave.
      const now = await this.ctx.storage.get<Waiting>(keys.slice(i, i + 128));
      const done: string[] = [];
      const retry: Record<string, Waiting> = {};
      for (const [key, w] of now) {
        if (w.seq !== taken.get(key)!.seq) continue;
        if (!refused.has(key.slice(2))) done.push(key);
        else retry[key] = { ...w, attempts: w.attempts + 1, due: wrote + Math.min(RETRY_MS * 2 ** w.attempts, MAX_RETRY_MS) };
      }
      await this.ctx.storage.delete(done);
      if (Object.keys(retry).length > 0) await this.ctx.storage.put(retry);
    }
  }

  private async armForNext() {
    let next = Number.POSITIVE_INFINITY;
    for (const [key, w] of await this.ctx.storage.list<Waiting>({ prefix: "w:", limit: SCAN })) next = Math.min(next, this.readyAt(key, w));
    if (next !== Number.POSITIVE_INFINITY) await this.ctx.storage.setAlarm(Math.max(next, Date.now()));
  }

  private async armBy(at: number) {
    const armed = await this.ctx.storage.getAlarm();
    if (armed === null || armed > at) await this.ctx.storage.setAlarm(at);
  }

  private forgetOldWrites(now: number) {
    for (const [u, at] of this.lastWrite) if (now - at >= KEY_WRITE_GAP_MS) this.lastWrite.delete(u);
  }
}
