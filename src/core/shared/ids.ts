// Ids: caller-supplied ones (SCIM, tracking, user ids) are 1–128 chars of this set;
// generated ones are 16 lowercase hex characters.
export const ID_PATTERN = /^[A-Za-z0-9._:@+-]{1,128}$/;

export function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Keep the first of each id, in order. */
export function uniqueIds(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

/**
 * A name for something of one tenant (a Durable Object, a KV key). Ids may contain ":", so
 * `${tenant}:${part}` is ambiguous once a tenant id does: tenant "a:b" with part "c" and
 * tenant "a" with part "b:c" would share one name. A tenant id holding ":" is joined with
 * "/" instead (no id contains it); the others keep ":", so existing names stay as they are.
 * Either way a name splits one way only.
 */
export function tenantScoped(tenantId: string, part: string): string {
  return tenantId.includes(":") ? `${tenantId}/${part}` : `${tenantId}:${part}`;
}
