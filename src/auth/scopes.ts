import type { Principal } from "../core/context";
import { CoreError } from "../core/errors";

export const SCOPES = {
  read: "groups:read",
  write: "groups:write",
  claims: "claims:read",
  admin: "admin",
} as const;

/** The caller needs one of these scopes; `admin` implies every scope. */
export function assertScope(principal: Principal, anyOf: readonly string[]) {
  if (principal.scopes.has(SCOPES.admin)) return;
  if (anyOf.some((s) => principal.scopes.has(s))) return;
  throw new CoreError("forbidden", `this call needs the scope ${anyOf.map((s) => `'${s}'`).join(" or ")}`);
}
