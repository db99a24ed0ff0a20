// Core rows ↔ SCIM resources (RFC 7643), meta with a weak ETag from the row's version,
// and the attributes / excludedAttributes projection.
import type { GroupRow } from "../../core/groups";
import type { ScimMember } from "../../core/scim";
import { isoTime as iso } from "../../core/shared/time";
import { emailSchema, phoneSchema } from "../../core/shared/validation";
import type { UserProfile, UserRow } from "../../core/users";
import { SCIM } from "./app";

export const etagOf = (version: number) => `W/"${version}"`;

/** User attributes kept as given (beyond the columns), per RFC 7643 §4.1 and the enterprise extension. */
const KEPT = [
  "name",
  "nickName",
  "profileUrl",
  "title",
  "userType",
  "preferredLanguage",
  "locale",
  "timezone",
  "emails",
  "phoneNumbers",
  "ims",
  "photos",
  "addresses",
  "x509Certificates",
  SCIM.enterprise,
];

type Multi = { value?: unknown; primary?: unknown; Primary?: unknown; type?: unknown }[];
const primaryOf = (list: unknown): string | undefined => {
  if (!Array.isArray(list)) return undefined;
  const items = list as Multi;
  const chosen = items.find((i) => i.primary === true || i.Primary === true || i.primary === "True") ?? items[0];
  return typeof chosen?.value === "string" ? chosen.value : undefined;
};

/** A SCIM user document → the core profile; attributes without a column are kept whole. */
export function profileOfScimUser(doc: Record<string, unknown>): UserProfile {
  const name = (doc.name ?? {}) as Record<string, unknown>;
  const email = primaryOf(doc.emails);
  const phone = primaryOf(doc.phoneNumbers);
  const kept = Object.fromEntries(KEPT.filter((k) => doc[k] !== undefined).map((k) => [k, doc[k]]));
  return {
    userName: doc.userName as string,
    externalId: typeof doc.externalId === "string" ? doc.externalId : null,
    active:
      doc.active === undefined ? true : doc.active === true || (typeof doc.active === "string" && doc.active.toLowerCase() === "true"),
    name: typeof doc.displayName === "string" ? doc.displayName : typeof name.formatted === "string" ? name.formatted : null,
    givenName: typeof name.givenName === "string" ? name.givenName : null,
    familyName: typeof name.familyName === "string" ? name.familyName : null,
    email: email && emailSchema.safeParse(email).success ? email : null,
    phoneNumber: phone && phoneSchema.safeParse(phone).success ? phone : null,
    scimAttributes: kept,
  };
}

export function scimUser(u: UserRow, base: string) {
  const kept = (u.scimAttributes ? JSON.parse(u.scimAttributes) : {}) as Record<string, unknown>;
  const name = {
    ...((kept.name as object) ?? {}),
    ...(u.givenName ? { givenName: u.givenName } : {}),
    ...(u.familyName ? { familyName: u.familyName } : {}),
  };
  return {
    schemas: [SCIM.user, ...(kept[SCIM.enterprise] ? [SCIM.enterprise] : [])],
    id: u.id,
    ...(u.externalId ? { externalId: u.externalId } : {}),
    userName: u.userName,
    ...(Object.keys(name).length > 0 ? { name } : {}),
    ...(u.name ? { displayName: u.name } : {}),
    active: u.active,
    ...kept,
    ...(kept.emails === undefined && u.email ? { emails: [{ value: u.email, primary: true }] } : {}),
    ...(kept.phoneNumbers === undefined && u.phoneNumber ? { phoneNumbers: [{ value: u.phoneNumber, primary: true }] } : {}),
    meta: {
      resourceType: "User",
      created: iso(u.createdAt),
      lastModified: iso(u.updatedAt),
      location: `${base}/Users/${u.id}`,
      version: etagOf(u.version),
    },
  };
}

export function scimGroup(g: GroupRow, base: string, members?: ScimMember[]) {
  return {
    schemas: [SCIM.group],
    id: g.id,
    ...(g.externalId ? { externalId: g.externalId } : {}),
    displayName: g.name,
    ...(members
      ? {
          members: members.map((m) => ({
            value: m.value,
            ...(m.display ? { display: m.display } : {}),
            type: m.type,
            $ref: `${base}/${m.type}s/${m.value}`,
          })),
        }
      : {}),
    meta: {
      resourceType: "Group",
      created: iso(g.createdAt),
      lastModified: iso(g.updatedAt),
      location: `${base}/Groups/${g.id}`,
      version: etagOf(g.version),
    },
  };
}

const ALWAYS = new Set(["id", "schemas"]);
/** attributes=a,b.c (bracket filters in attribute names are read as the attribute itself). */
const namesOf = (list: string | undefined) =>
  list
    ? list
        .split(",")
        .map((a) =>
          a
            .trim()
            .replace(/\[.*$/, "")
            .replace(/^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i, ""),
        )
        .filter(Boolean)
    : [];

export interface Projection {
  attributes: string[];
  excluded: string[];
}

export const projectionOf = (q: { attributes?: string; excludedAttributes?: string }): Projection => ({
  attributes: namesOf(q.attributes),
  excluded: namesOf(q.excludedAttributes),
});

/**
 * Where an attribute path lands in a resource's top-level key: the whole key (""), a
 * sub-attribute path under it ("givenName", "manager.value"), or nowhere (undefined). An
 * extension's key is its schema URN, which holds dots, so its sub-attributes follow a colon
 * (RFC 7644 §3.10: urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber).
 */
function under(path: string, key: string): string | undefined {
  const [a, k] = [path.toLowerCase(), key.toLowerCase()];
  if (a === k) return "";
  const separator = k.startsWith("urn:") ? ":" : ".";
  return a.startsWith(k + separator) ? a.slice(k.length + 1) : undefined;
}

/** Whether the projection returns this top-level attribute (so it need not be loaded otherwise). */
export const wants = (p: Projection, attr: string) =>
  (p.attributes.length === 0 || p.attributes.some((a) => under(a, attr) !== undefined)) && !p.excluded.some((a) => under(a, attr) === "");

export function project(resource: Record<string, unknown>, p: Projection): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) {
    if (!ALWAYS.has(key) && !wants(p, key)) continue;
    const paths = p.attributes.map((a) => under(a, key)).filter((sub) => sub !== undefined);
    // Asked for by sub-attributes only: those sub-attributes (their first step), not the whole.
    const subs = paths.includes("") ? [] : paths.map((sub) => sub.split(".")[0]!);
    out[key] =
      subs.length > 0 && value && typeof value === "object" && !Array.isArray(value)
        ? Object.fromEntries(Object.entries(value).filter(([k]) => subs.includes(k.toLowerCase())))
        : value;
  }
  return out;
}
