// When a group's next direct membership expires, kept in its coordinator's storage (with the
// tenant and group, which the object does not otherwise know), and the object's alarm armed
// no later than that. The claims queue shares the alarm: the alarm handler re-arms for both.

export interface DueExpiry {
  tenantId: string;
  groupId: string;
  at: number;
}

/** The wait after a refused sweep of a due expiry, doubling per refusal up to the most. */
const REFUSED_RETRY_MS = { first: 1_000, most: 60_000 } as const;

export class ExpirySchedule {
  /** undefined: not read from storage yet. */
  private next: DueExpiry | null | undefined;
  /** Sweeps of the due expiry refused in a row (its tenant fenced by a move, say), and when the alarm may try again. */
  private refused = 0;
  private retryAt = 0;

  constructor(private readonly storage: DurableObjectStorage) {}

  async get(): Promise<DueExpiry | null> {
    if (this.next === undefined) this.next = (await this.storage.get<DueExpiry>("expiry")) ?? null;
    return this.next;
  }

  /** The expiry to act on now, if its time has come (a change acts on it whatever the alarm's wait after a refusal). */
  async dueBy(now: number): Promise<DueExpiry | null> {
    const next = await this.get();
    return next && next.at <= now ? next : null;
  }

  /** The expiry the alarm acts on now: a due one, once the wait after its last refused sweep is over. */
  async dueForAlarm(now: number): Promise<DueExpiry | null> {
    return now >= this.retryAt ? this.dueBy(now) : null;
  }

  /** The group's next expiry is exactly `at` (null: none left). */
  async set(tenantId: string, groupId: string, at: number | null) {
    this.refused = 0;
    this.retryAt = 0;
    this.next = at === null ? null : { tenantId, groupId, at };
    if (this.next) await this.storage.put("expiry", this.next);
    else await this.storage.delete("expiry");
    await this.arm();
  }

  /** A change set an expiry at `at`: the next one is no later than that. */
  async note(tenantId: string, groupId: string, at: number) {
    const next = await this.get();
    if (next && next.at <= at) return;
    await this.set(tenantId, groupId, at);
  }

  /**
   * The sweep of the due expiry was refused: the alarm tries again after a wait. Armed at the expiry, it would fire
   * again at once (and the failed attempt's claims handoff with it), as often as the shard can refuse, while it refuses.
   */
  refusedNow() {
    this.retryAt = Date.now() + Math.min(REFUSED_RETRY_MS.most, REFUSED_RETRY_MS.first * 2 ** this.refused++);
  }

  /** Arm the alarm no later than the next expiry (or the end of the wait after a refused sweep of it). */
  async arm() {
    const next = await this.get();
    if (!next) return;
    const at = Math.max(next.at, this.retryAt);
    const armed = await this.storage.getAlarm();
    if (armed === null || armed > at) await this.storage.setAlarm(at);
  }
}
