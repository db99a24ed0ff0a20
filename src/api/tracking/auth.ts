import type { TokenSource } from "../../auth/middleware";
import { bearerToken } from "../../auth/middleware";

/**
 * Segment-style SDKs send the write key as the user name of HTTP Basic auth; here the
 * write key is an API key (or a token) of the tenant. A Bearer header works too.
 */
export const writeKeyOrBearer: TokenSource = (c) => {
  const header = c.req.header("authorization") ?? "";
  const basic = header.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
  if (basic) {
    try {
      const decoded = atob(basic[1]!);
      const user = decoded.slice(0, decoded.includes(":") ? decoded.indexOf(":") : undefined);
      return user || undefined;
    } catch {
      return undefined;
    }
  }
  return bearerToken(c);
};
