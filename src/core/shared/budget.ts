/**
 * Subrequests (D1, KV, Durable Object and queue calls) counted against a limit: Cloudflare allows an invocation 1,000.
 * Work that spans many units (a move's chunks, a cron's tenants) takes a unit only while `left` covers it, and leaves
 * the rest for a later invocation.
 */
export class Budget {
  spent = 0;
  constructor(readonly limit: number) {}

  take(n = 1) {
    this.spent += n;
  }

  get left(): number {
    return this.limit - this.spent;
  }
}
