// Which tenant a request acts in. A tenant's credential (token or API key) acts in its
// own tenant only: naming another one is 403, whatever its scopes. Only a vendor token
// (auth/verify.ts), which no tenant can hold or mint, may name the tenant, and only on a
// surface that has a header for it.
import type { Principal } from "../core/shared/context";
import { CoreError } from "../core/shared/errors";
import { ID_PATTERN } from "../core/shared/ids";
import type { VerifiedToken } from "./verify";

export function actingPrincipal(credential: VerifiedToken, tenantHeader: string | undefined, named: string | undefined): Principal {
  if (credential.kind === "tenant") {
    const own = credential.principal;
    if (named !== undefined && named !== own.tenantId) {
      throw new CoreError("forbidden", `a tenant's credential acts only in its own tenant: ${tenantHeader} names another tenant`);
    }
    return own;
  }
  if (!tenantHeader) {
    throw new CoreError(
      "forbidden",
      "a vendor token acts for a tenant only where it can name one (frontegg-tenant-id on /resources/groups)",
    );
  }
  if (named === undefined) throw new CoreError("invalid", `a vendor token must name the tenant it acts for in ${tenantHeader}`);
  if (!ID_PATTERN.test(named)) throw new CoreError("invalid", `${tenantHeader} is not a valid tenant id`);
  return { tenantId: named, subject: `vendor:${credential.subject}`, credential: "vendor", scopes: credential.scopes, roles: [] };
}
