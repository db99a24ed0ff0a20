/**
 * Subrequests (D1, KV, Durable Object and queue calls) counted against a limit: Cloudflare allows an invocation 1,000.
 * Work that spans many units (a move's chunks, a cron's tenants) takes a unit only while `left` covers it, and leaves
 * the rest for a later invocation.
 */
export class Budget {
  spent = 0;
  constructor(
    readonly limit: number,
    private readonly whole?: Budget,
  ) {}

  take(n = 1) {
    this.spent += n;
    this.whole?.take(n);
  }

  /** What this budget has left, and never more than the budget it is part of. */
  get left(): number {
    return Math.min(this.limit - this.spent, this.whole?.left ?? Number.POSITIVE_INFINITY);
  }

  /** A share of this budget, at most `limit`: what it spends, this one spends too. */
  part(limit: number): Budget {
    return new Budget(Math.max(0, Math.min(limit, this.left)), this);
  }
}
