// Identity providers vary the case of SCIM endpoints (/scim/v2/users) and add a
// trailing slash (/Users/?filter=...). Requests are rewritten to the canonical path
// before routing, since Hono's router matches case-sensitively.
import { SCIM_BASE } from "./app";

const ENDPOINTS = ["Users", "Groups", "Schemas", "ResourceTypes", "ServiceProviderConfig", "serviceConfiguration", "Bulk"];
const canonical = new Map(ENDPOINTS.map((e) => [e.toLowerCase(), e]));

export function canonicalScimRequest(request: Request): Request {
  const url = new URL(request.url);
  if (!url.pathname.toLowerCase().startsWith(`${SCIM_BASE}/`)) return request;
  const rest = url.pathname.slice(SCIM_BASE.length + 1).replace(/\/+$/, "");
  const [first, ...tail] = rest.split("/");
  const path = `${SCIM_BASE}/${[canonical.get((first ?? "").toLowerCase()) ?? first, ...tail].join("/")}`;
  if (path === url.pathname) return request;
  url.pathname = path;
  return new Request(url, request);
}
