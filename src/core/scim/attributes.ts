// Where each SCIM attribute lives, for filters (see scim-filter.ts).
import { sql } from "drizzle-orm";
import { groups, users } from "../../db/schema";
import { type AttributeMap, jsonArray } from "./filter";

const kept = (path: string) => sql`json_extract(${users.scimAttributes}, ${path})`;

export const USER_ATTRIBUTES: AttributeMap = {
  id: { expr: sql`${users.id}`, caseExact: true },
  userName: { expr: sql`${users.userNameKey}`, lowered: true },
  externalId: { expr: sql`${users.externalId}`, caseExact: true },
  displayName: { expr: sql`${users.name}` },
  "name.givenName": { expr: sql`${users.givenName}` },
  "name.familyName": { expr: sql`${users.familyName}` },
  "name.formatted": { expr: kept("$.name.formatted") },
  title: { expr: kept("$.title") },
  nickName: { expr: kept("$.nickName") },
  userType: { expr: kept("$.userType") },
  locale: { expr: kept("$.locale") },
  active: { expr: sql`${users.active}`, kind: "boolean" },
  emails: jsonArray(sql`coalesce(${kept("$.emails")}, json_array(json_object('value', ${users.email}, 'primary', json('true'))))`, [
    "value",
    "type",
    "primary",
    "display",
  ]),
  phoneNumbers: jsonArray(sql`coalesce(${kept("$.phoneNumbers")}, json_array(json_object('value', ${users.phoneNumber})))`, [
    "value",
    "type",
    "primary",
  ]),
  "meta.created": { expr: sql`${users.createdAt}`, kind: "date" },
  "meta.lastModified": { expr: sql`${users.updatedAt}`, kind: "date" },
};

export const GROUP_ATTRIBUTES: AttributeMap = {
  id: { expr: sql`${groups.id}`, caseExact: true },
  displayName: { expr: sql`${groups.nameKey}`, lowered: true },
  externalId: { expr: sql`${groups.externalId}`, caseExact: true },
  "meta.created": { expr: sql`${groups.createdAt}`, kind: "date" },
  "meta.lastModified": { expr: sql`${groups.updatedAt}`, kind: "date" },
  members: {
    multi: (sub) => {
      const item = { value: sql`mm.user_id`, display: sql`mm.display` }[sub.toLowerCase() as "value" | "display"];
      return item && { from: sql`live_memberships mm`, where: sql`mm.tenant_id = ${groups.tenantId} AND mm.group_id = ${groups.id}`, item };
    },
  },
};
