// When a group's next direct membership expires, kept in its coordinator's storage (with the
// tenant and group, which the object does not otherwise know), and the object's alarm armed
// no later than that. The claims queue shares the alarm: the alarm handler re-arms for both.

export interface DueExpiry {
  tenantId: string;
  groupId: string;
  at: number;
}

export class ExpirySchedule {
  /** undefined: not read from storage yet. */
  private next: DueExpiry | null | undefined;

  constructor(private readonly storage: DurableObjectStorage) {}

  async get(): Promise<DueExpiry | null> {
    if (this.next === undefined) this.next = (await this.storage.get<DueExpiry>("expiry")) ?? null;
    return this.next;
  }

  /** The expiry to act on now, if its time has come. */
  async dueBy(now: number): Promise<DueExpiry | null> {
    const next = await this.get();
    return next && next.at <= now ? next : null;
  }

  /** The group's next expiry is exactly `at` (null: none left). */
  async set(tenantId: string, groupId: string, at: number | null) {
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

  /** Arm the alarm no later than the next expiry. */
  async arm() {
    const next = await this.get();
    if (!next) return;
    const armed = await this.storage.getAlarm();
    if (armed === null || armed > next.at) await this.storage.setAlarm(next.at);
  }
}
