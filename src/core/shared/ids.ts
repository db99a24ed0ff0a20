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
