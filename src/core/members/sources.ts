// Why a user is a member: each source that holds the membership is one bit of
// memberships.sources. The user is a member while any bit is set; removing through a
// surface clears that surface's bit only.

export const SOURCE_BITS = { direct: 1, scim: 2, analytics: 4, rule: 8 } as const;
export type MembershipSource = keyof typeof SOURCE_BITS;
export const MEMBERSHIP_SOURCES = Object.keys(SOURCE_BITS) as MembershipSource[];

/** The bit a caller's source (the coordinator Caller.source) adds and removes. */
export function sourceBit(callerSource: string): number {
  if (callerSource === "scim") return SOURCE_BITS.scim;
  if (callerSource === "tracking") return SOURCE_BITS.analytics;
  if (callerSource === "rule") return SOURCE_BITS.rule;
  return SOURCE_BITS.direct;
}

/** The names of the sources set in these bits, in a fixed order. */
export const sourceNames = (bits: number): MembershipSource[] => MEMBERSHIP_SOURCES.filter((s) => (bits & SOURCE_BITS[s]) !== 0);
