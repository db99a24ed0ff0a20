// Durable Object names. Ids may contain ":" (core/shared/ids.ts), so `${tenant}:${group}`
// is ambiguous once a tenant id does: tenant "a:b" with group "c" and tenant "a" with group
// "b:c" would share one object, and so one queue of changes. A tenant id with a ":" gets
// "/" instead (no id contains it); the others keep ":", so existing objects keep their
// names (and their sequence numbers and queues). Either way the name splits one way only.
export function objectName(tenantId: string, part: string): string {
  return tenantId.includes(":") ? `${tenantId}/${part}` : `${tenantId}:${part}`;
}
