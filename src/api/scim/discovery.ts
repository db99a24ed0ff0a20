// /ServiceProviderConfig, /Schemas and /ResourceTypes: exactly what this server supports.
import { LIMITS } from "../../core/shared/validation";
import { SCIM, type ScimApp, scimJson } from "./app";
import { baseOf } from "./http";

export const BULK_MAX_OPERATIONS = 1_000;

const attr = (name: string, type: string, extra: Record<string, unknown> = {}) => ({
  name,
  type,
  multiValued: false,
  required: false,
  caseExact: false,
  mutability: "readWrite",
  returned: "default",
  uniqueness: "none",
  ...extra,
});
const multi = (name: string, subs: string[]) =>
  attr(name, "complex", { multiValued: true, subAttributes: subs.map((s) => attr(s, s === "primary" ? "boolean" : "string")) });

const USER_SCHEMA = {
  id: SCIM.user,
  name: "User",
  description: "User Account",
  attributes: [
    attr("userName", "string", { required: true, uniqueness: "server" }),
    attr("name", "complex", {
      subAttributes: ["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"].map((s) =>
        attr(s, "string"),
      ),
    }),
    attr("displayName", "string"),
    attr("nickName", "string"),
    attr("profileUrl", "reference"),
    attr("title", "string"),
    attr("userType", "string"),
    attr("preferredLanguage", "string"),
    attr("locale", "string"),
    attr("timezone", "string"),
    attr("active", "boolean"),
    multi("emails", ["value", "type", "primary", "display"]),
    multi("phoneNumbers", ["value", "type", "primary"]),
    multi("addresses", ["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type", "primary"]),
    attr("externalId", "string", { caseExact: true }),
  ],
};

const GROUP_SCHEMA = {
  id: SCIM.group,
  name: "Group",
  description: "Group",
  attributes: [
    attr("displayName", "string", { required: true, uniqueness: "server" }),
    attr("members", "complex", {
      multiValued: true,
      subAttributes: [
        attr("value", "string", { mutability: "immutable" }),
        attr("display", "string"),
        attr("type", "string", { canonicalValues: ["User", "Group"] }),
        attr("$ref", "reference", { referenceTypes: ["User", "Group"] }),
      ],
    }),
    attr("externalId", "string", { caseExact: true }),
  ],
};

const ENTERPRISE_SCHEMA = {
  id: SCIM.enterprise,
  name: "EnterpriseUser",
  description: "Enterprise User (kept as given)",
  attributes: ["employeeNumber", "costCenter", "organization", "division", "department"]
    .map((s) => attr(s, "string"))
    .concat([attr("manager", "complex")]),
};

const meta = (base: string, type: string, id: string) => ({
  resourceType: type,
  location: `${base}/${type === "Schema" ? "Schemas" : "ResourceTypes"}/${id}`,
});
const list = (resources: unknown[]) => ({
  schemas: [SCIM.list],
  totalResults: resources.length,
  startIndex: 1,
  itemsPerPage: resources.length,
  Resources: resources,
});

export function registerDiscoveryRoutes(app: ScimApp) {
  const config = (base: string) => ({
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    documentationUri: "https://github.com/edge-groups/edge-groups#scim-20-scimv2",
    patch: { supported: true },
    bulk: { supported: true, maxOperations: BULK_MAX_OPERATIONS, maxPayloadSize: LIMITS.bodyBytes },
    filter: { supported: true, maxResults: 1_000 },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "OAuth Bearer Token",
        description: "A JWT with scope scim, as Authorization: Bearer",
        primary: true,
      },
    ],
    meta: { resourceType: "ServiceProviderConfig", location: `${base}/ServiceProviderConfig` },
  });
  // Entra's own test collection asks for /serviceConfiguration.
  for (const path of ["/ServiceProviderConfig", "/serviceConfiguration"]) app.get(path, (c) => scimJson(c, config(baseOf(c))));

  app.get("/Schemas", (c) =>
    scimJson(c, list([USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA].map((s) => ({ ...s, meta: meta(baseOf(c), "Schema", s.id) })))),
  );
  app.get("/ResourceTypes", (c) =>
    scimJson(
      c,
      list([
        {
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
          id: "User",
          name: "User",
          endpoint: "/Users",
          description: "User Account",
          schema: SCIM.user,
          schemaExtensions: [{ schema: SCIM.enterprise, required: false }],
          meta: meta(baseOf(c), "ResourceType", "User"),
        },
        {
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
          id: "Group",
          name: "Group",
          endpoint: "/Groups",
          description: "Group",
          schema: SCIM.group,
          meta: meta(baseOf(c), "ResourceType", "Group"),
        },
      ]),
    ),
  );
}
