// One OpenAPI 3.1 document for every surface, with a tag each: the native API describes
// itself (its routes are OpenAPIHono routes); the other surfaces are plain Hono routes, so
// they are registered here from the same zod schemas that validate them. One document,
// because the surfaces share their credentials and one Swagger UI page serves them all.
import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import { z } from "zod";
import type { AppEnv } from "../http/app-env";
import * as frontegg from "./frontegg/schemas";
import { hookRequest } from "./hooks/okta";
import * as kaizala from "./kaizala/routes";
import { bulkBody } from "./scim/bulk";
import * as scim from "./scim/schemas";
import { PIXEL_DATA_MAX } from "./tracking/body";
import { seed002EventDocumented, seed003Event } from "./tracking/group-call-schemas";
import { PIXEL_PATHS } from "./tracking/pixel";
import { anyEvent, SEGMENT_PATHS } from "./tracking/segment";
import { moveBody, shardBody } from "./vendor/shards";

const TAGS = [
  { name: "groups", description: "Native API (seed 000): groups" },
  { name: "members", description: "Native API: a group's members" },
  { name: "users", description: "Native API: users, their groups and their claim" },
  { name: "hierarchy", description: "Native API: nested groups" },
  { name: "roles", description: "Native API: roles, held by groups and users" },
  { name: "config", description: "Native API: the tenant's settings" },
  { name: "api keys", description: "Native API: the tenant's long-lived credentials" },
  { name: "events", description: "Native API: the change stream" },
  { name: "rules", description: "Native API: membership rules (so far, previewing who an expression selects)" },
  { name: "webhooks", description: "Native API: the change stream pushed to your endpoints, signed per Standard Webhooks" },
  { name: "seed-001", description: "The user-groups API of seed 001 (tenant header frontegg-tenant-id)" },
  { name: "conversation-groups", description: "The conversation-groups API of seed 004 (accessToken header)" },
  { name: "analytics", description: "Group calls (seeds 002, 003) and the Segment HTTP API (write key as Basic user)" },
  { name: "scim", description: "SCIM 2.0 (RFC 7643/7644) for identity providers" },
  { name: "hooks", description: "Identity-provider token hooks" },
  { name: "vendor", description: "The operator's routes (vendor tokens with scope admin): tenants' shards, placements and moves" },
];

type Schema = Record<string, unknown>;
/** The request side of a validating schema (transforms included), as zod itself writes it. */
function schemaOf(s: z.ZodType): Schema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Schema;
  return rest;
}
const json = (s: z.ZodType) => ({ content: { "application/json": { schema: schemaOf(s) } }, required: true });
const queryOf = (s: z.ZodType) => {
  const { properties = {}, required = [] } = schemaOf(s) as { properties?: Record<string, Schema>; required?: string[] };
  return Object.entries(properties).map(([name, schema]) => ({ name, in: "query" as const, required: required.includes(name), schema }));
};
const pathOf = (...names: string[]) =>
  names.map((name) => ({ name, in: "path" as const, required: true, schema: { type: "string", minLength: 1, maxLength: 128 } }));
const answer = (description: string) => ({ description, content: { "application/json": { schema: z.object({}).loose() } } });
const refusals = {
  400: answer("Invalid input, in the surface's error format"),
  401: answer("Missing, expired or unknown credential"),
  403: answer("The credential lacks the scope, or names another tenant"),
  503: answer(
    "Not written now, retry after Retry-After: the tenant is moving to another database, or a change kept meeting racing writes (an analytics request's applied events are known by their messageId on the retry)",
  ),
};
const withId = { ...refusals, 404: answer("Unknown id (also another tenant's)") };
const notJson = { 415: answer("The body was sent with a Content-Type that is not JSON; nothing was changed") };
/** The analytics routes read JSON whatever its Content-Type (Segment's SDKs send text/plain); the Okta hook refuses with its own 400. */
const readsJsonOnly = (o: { request?: { body?: unknown }; tags?: string[] }) =>
  o.request?.body !== undefined && !o.tags?.some((t) => t === "analytics" || t === "hooks");

// Plain OpenAPI objects (JSON Schema from zod), handed to the registry as they are.
type Op = Omit<RouteConfig, "responses" | "request" | "parameters"> & {
  request?: { body?: ReturnType<typeof json> };
  parameters?: Record<string, unknown>[];
  responses?: RouteConfig["responses"];
  ok?: string;
};
type Security = Record<string, string[]>[];

function registerAll(app: OpenAPIHono<AppEnv>) {
  const r = app.openAPIRegistry;
  r.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", description: "A tenant's JWT or API key (egk_...)" });
  r.registerComponent("securitySchemes", "vendorToken", {
    type: "http",
    scheme: "bearer",
    description: "The operator's vendor token (VENDOR_*), with scope admin; a tenant's credential is refused",
  });
  r.registerComponent("securitySchemes", "writeKey", {
    type: "http",
    scheme: "basic",
    description: "An API key as the Segment write key: the Basic user name (empty password), or `writeKey` in the body",
  });
  r.registerComponent("securitySchemes", "writeKeyInUrl", {
    type: "apiKey",
    in: "query",
    name: "writeKey",
    description: "A beacon's write key: an API key whose only scopes are group_api or telemetry_apis (a key that can do more is 403 here)",
  });
  r.registerComponent("securitySchemes", "accessToken", {
    type: "apiKey",
    in: "header",
    name: "accessToken",
    description: "Seed 004's header: a JWT or API key",
  });
  r.registerComponent("securitySchemes", "hookSecret", {
    type: "apiKey",
    in: "header",
    name: "Authorization",
    description: "An API key with scope hooks, or a HOOK_SECRETS secret",
  });
  const op = ({ ok = "Done", responses, ...o }: Op) =>
    r.registerPath({
      ...o,
      responses: { 200: answer(ok), ...(o.path.includes("{") ? withId : refusals), ...(readsJsonOnly(o) ? notJson : {}), ...responses },
    } as unknown as RouteConfig);

  // Seed 001 at /resources/groups.
  const tenantHeader = {
    name: "frontegg-tenant-id",
    in: "header" as const,
    required: false,
    schema: { type: "string" },
    description: "a vendor token's tenant",
  };
  const f = { tags: ["seed-001"], parameters: [tenantHeader] };
  const fid = (name: string) => [tenantHeader, ...pathOf(name)];
  // If-Match (412) and If-None-Match (304) where the route honours them; describeHeaders adds the headers.
  const conditional = { 412: answer("If-Match names another version: nothing changed (ETag: the current one)") };
  const cached = { 304: { description: "If-None-Match names the current tag" } };
  op({ ...f, method: "get", path: "/resources/groups/v1/config", summary: "Read the groups configuration", responses: cached });
  op({
    ...f,
    method: "post",
    path: "/resources/groups/v1/config",
    summary: "Change the groups configuration",
    request: { body: json(frontegg.configBody) },
    responses: { 201: answer("The configuration"), ...conditional },
  });
  op({ ...f, method: "get", path: "/resources/groups/v1", summary: "List every group with its roles and users" });
  op({
    ...f,
    method: "post",
    path: "/resources/groups/v1",
    summary: "Create a group",
    request: { body: json(frontegg.createGroupBody) },
    responses: { 201: answer("The group") },
  });
  op({
    ...f,
    method: "post",
    path: "/resources/groups/v1/bulkGet",
    summary: "Get groups by id",
    request: { body: json(frontegg.bulkGetBody) },
  });
  op({ ...f, method: "get", path: "/resources/groups/v1/{id}", summary: "Get a group", parameters: fid("id"), responses: cached });
  op({
    ...f,
    method: "patch",
    path: "/resources/groups/v1/{id}",
    summary: "Update a group",
    parameters: fid("id"),
    request: { body: json(frontegg.updateGroupBody) },
    responses: conditional,
  });
  op({
    ...f,
    method: "delete",
    path: "/resources/groups/v1/{id}",
    summary: "Delete a group",
    parameters: fid("id"),
    responses: conditional,
  });
  for (const [method, verb] of [
    ["post", "Assign"],
    ["delete", "Remove"],
  ] as const) {
    op({
      ...f,
      method,
      path: "/resources/groups/v1/{groupId}/roles",
      summary: `${verb} roles of a group`,
      parameters: fid("groupId"),
      request: { body: json(frontegg.roleIdsBody) },
      responses: conditional,
    });
    op({
      ...f,
      method,
      path: "/resources/groups/v1/{groupId}/users",
      summary: `${verb === "Assign" ? "Add" : "Remove"} users of a group`,
      parameters: fid("groupId"),
      request: { body: json(frontegg.userIdsBody) },
      responses: conditional,
    });
  }
  op({
    ...f,
    method: "get",
    path: "/resources/groups/v2",
    summary: "Page through groups",
    parameters: [tenantHeader, ...queryOf(frontegg.v2Query)],
  });

  // Seed 004 at /kaizala.
  const k = { tags: ["conversation-groups"], security: [{ accessToken: [] }, { bearer: [] }] as Security };
  op({
    ...k,
    method: "post",
    path: "/kaizala/v1/groups",
    summary: "Create a conversation group",
    request: { body: json(kaizala.createBody) },
  });
  op({ ...k, method: "get", path: "/kaizala/v1/groups", summary: "List the caller's groups", parameters: queryOf(kaizala.listQuery) });
  op({
    ...k,
    method: "get",
    path: "/kaizala/v1/groups/{groupId}",
    summary: "Get a group the caller may see",
    parameters: [...pathOf("groupId"), ...queryOf(kaizala.listQuery)],
    responses: cached,
  });

  // Analytics: seeds 002 and 003, and the Segment HTTP API.
  const a = { tags: ["analytics"], security: [{ writeKey: [] }, { bearer: [] }] as Security };
  op({
    ...a,
    method: "post",
    path: "/api/group",
    summary: "Record group calls (seed 002)",
    request: { body: json(z.union([seed002EventDocumented, z.array(seed002EventDocumented)])) },
  });
  op({
    ...a,
    method: "post",
    path: "/group",
    summary: "Record a group call (seed 003)",
    request: { body: json(z.union([seed003Event, z.array(seed003Event)])) },
  });
  // A batch's own fields beside its events: when it was sent (corrects the sender's clock) and the write key (a credential).
  const segmentBatchDocumented = z
    .object({
      batch: z.array(anyEvent),
      sentAt: z
        .string()
        .optional()
        .openapi({ description: "when the sender sent the batch, by its clock: corrects each event's timestamp for its skew" }),
      writeKey: z.string().optional().openapi({ description: "the write key (an API key), when no Authorization header carries it" }),
    })
    .loose();
  // Each Segment route twice: its own path, and the one-letter path of analytics.js.
  for (const [kind, paths] of Object.entries(SEGMENT_PATHS)) {
    const batch = kind === "batch";
    for (const path of paths) {
      op({
        ...a,
        method: "post",
        path: `/v1${path}`,
        summary: `Record ${batch ? "a batch of Segment events" : `one Segment ${kind} call`}${path.length === 2 ? " (analytics.js path)" : ""}`,
        request: { body: json(batch ? segmentBatchDocumented : anyEvent) },
      });
    }
  }

  op({
    ...a,
    security: [{ writeKeyInUrl: [] }, { writeKey: [] }, { bearer: [] }],
    method: "post",
    path: "/beacon/v1/batch",
    summary: "Record a batch of Segment events sent by navigator.sendBeacon (RudderStack's useBeacon)",
    request: { body: json(segmentBatchDocumented) },
  });

  // Segment's tracking pixel: the call in ?data=, its writeKey inside it.
  const pixelData = {
    name: "data",
    in: "query" as const,
    required: true,
    schema: { type: "string", maxLength: PIXEL_DATA_MAX },
    description:
      "the call's JSON (as POST /v1/{type} takes it, with writeKey: an API key whose only scopes are group_api or telemetry_apis), base64-encoded or as it is",
  };
  const gif = {
    description: "Recorded: a 1x1 transparent GIF",
    content: { "image/gif": { schema: { type: "string" as const, format: "binary" } } },
  };
  for (const { type, path } of PIXEL_PATHS) {
    op({
      ...a,
      method: "get",
      path: `/v1${path}`,
      summary: `Record one Segment ${type} call from an image (tracking pixel)`,
      parameters: [pixelData],
      responses: { 200: gif },
    });
  }

  // SCIM 2.0 at /scim/v2.
  const s = { tags: ["scim"] };
  for (const p of ["ServiceProviderConfig", "serviceConfiguration", "Schemas", "ResourceTypes"]) {
    op({ ...s, method: "get", path: `/scim/v2/${p}`, summary: `SCIM discovery: ${p}` });
  }
  for (const [kind, body] of [
    ["Users", scim.userBody],
    ["Groups", scim.groupBody],
  ] as const) {
    const one = kind.slice(0, -1).toLowerCase();
    op({
      ...s,
      method: "get",
      path: `/scim/v2/${kind}`,
      summary: `List or filter ${kind.toLowerCase()}`,
      parameters: queryOf(scim.listQuery),
    });
    op({
      ...s,
      method: "post",
      path: `/scim/v2/${kind}`,
      summary: `Create a ${one}`,
      request: { body: json(body) },
      responses: { 201: answer(`The ${one}`), 409: answer("Uniqueness clash") },
    });
    op({
      ...s,
      method: "get",
      path: `/scim/v2/${kind}/{id}`,
      summary: `Get a ${one}`,
      parameters: [...pathOf("id"), ...queryOf(scim.projectionQuery)],
    });
    op({
      ...s,
      method: "put",
      path: `/scim/v2/${kind}/{id}`,
      summary: `Replace a ${one}`,
      parameters: pathOf("id"),
      request: { body: json(body) },
      responses: { 412: answer("If-Match does not match") },
    });
    op({
      ...s,
      method: "patch",
      path: `/scim/v2/${kind}/{id}`,
      summary: `Patch a ${one}`,
      parameters: pathOf("id"),
      request: { body: json(scim.patchBody) },
      responses: { 204: { description: "Patched" }, 412: answer("If-Match does not match") },
    });
    op({
      ...s,
      method: "delete",
      path: `/scim/v2/${kind}/{id}`,
      summary: `Delete a ${one}`,
      parameters: pathOf("id"),
      responses: { 204: { description: "Deleted" }, 412: answer("If-Match does not match") },
    });
  }
  op({ ...s, method: "post", path: "/scim/v2/Bulk", summary: "Run SCIM operations in bulk", request: { body: json(bulkBody) } });

  op({
    tags: ["hooks"],
    security: [{ hookSecret: [] }],
    method: "post",
    path: "/hooks/okta/token",
    summary: "Okta token inline hook: add the groups claim",
    request: { body: json(hookRequest) },
  });

  // The operator's routes at /vendor: where tenants live, and moving them.
  const v = { tags: ["vendor"], security: [{ vendorToken: [] }] };
  const busy = { 409: answer("The tenant is placed already, or another move of it runs") };
  op({ ...v, method: "get", path: "/vendor/shards", summary: "List the shards: tenants placed and bytes used" });
  op({
    ...v,
    method: "get",
    path: "/vendor/tenants/{tenant}/placement",
    summary: "Read a tenant's shard and its move",
    parameters: pathOf("tenant"),
  });
  op({
    ...v,
    method: "put",
    path: "/vendor/tenants/{tenant}/placement",
    summary: "Place a new tenant on a shard",
    parameters: pathOf("tenant"),
    request: { body: json(shardBody) },
    responses: { 201: answer("Placed"), ...busy },
  });
  op({
    ...v,
    method: "post",
    path: "/vendor/tenants/{tenant}/move",
    summary: "Move a tenant to another shard online (call again while 202)",
    parameters: pathOf("tenant"),
    request: { body: json(moveBody) },
    responses: { 202: answer("Moving: call again (Retry-After)"), ...busy },
  });
  op({
    ...v,
    method: "delete",
    path: "/vendor/tenants/{tenant}/move",
    summary: "Roll back a move that has not switched",
    parameters: pathOf("tenant"),
    responses: busy,
  });
}

const WORDS: Record<string, string> = { get: "get", post: "create", put: "replace", patch: "update", delete: "delete" };

/** Every operation gets an operationId (and a summary where its route gave none). */
function completeOperations<T extends { paths?: object }>(doc: T): T {
  const camel = (s: string) => s.replace(/[^A-Za-z0-9]+(.)?/g, (_, ch: string | undefined) => (ch ? ch.toUpperCase() : ""));
  type Operation = { operationId?: string; summary?: string; description?: string };
  for (const [p, ops] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, Operation>>)) {
    for (const [method, o] of Object.entries(ops)) {
      o.operationId ??= camel(`${method} ${p.replace(/\{([^}]+)\}/g, "by $1")}`);
      o.summary ??= o.description?.split(/(?<=\.)\s/)[0] ?? `${WORDS[method] ?? method} ${p.replace(/^\/v1\//, "")}`;
    }
  }
  return doc;
}

const header = (name: string, description: string) => ({
  name,
  in: "header" as const,
  required: false,
  schema: { type: "string" },
  description,
});
const HEADERS = {
  bookmark: header(
    "x-d1-bookmark",
    "The bookmark an earlier answer carried in this header: this request reads at least what that one wrote. Every answer carries its own.",
  ),
  ifMatch: header("If-Match", "Apply only if the resource is still at this entity tag (from ETag); else 412 and nothing changes."),
  ifNoneMatch: header("If-None-Match", "Answer 304 without a body if the resource is still at this entity tag."),
  idempotencyKey: header(
    "Idempotency-Key",
    "A key of the caller's choice (1-255 visible ASCII characters): a retry with the same key and the same request gets the first answer, kept 24 h, with Idempotent-Replayed: true, and is not applied again; the same key on a different request is 422 key_reused; a retry while the first still runs waits up to 5 s, then 409.",
  ),
};
/** The surfaces whose writes take Idempotency-Key (not analytics, SCIM or hooks). */
const IDEMPOTENT_TAGS = new Set([
  "groups",
  "members",
  "users",
  "hierarchy",
  "roles",
  "config",
  "api keys",
  "seed-001",
  "conversation-groups",
]);

/** The request headers the middleware of every route reads, declared on the operations that honour them. */
function describeHeaders<T extends { paths?: object }>(doc: T): T {
  type Operation = { tags?: string[]; parameters?: object[]; responses?: Record<string, unknown> };
  for (const [p, ops] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, Operation>>)) {
    for (const [method, o] of Object.entries(ops)) {
      const add = (h: object) => (o.parameters = [...(o.parameters ?? []), h]);
      if (o.responses?.["412"]) add(HEADERS.ifMatch);
      if (o.responses?.["304"]) add(HEADERS.ifNoneMatch);
      // A new API key's secret is shown once, so its creation keeps no answer to replay.
      const keepsAnswer = !(method === "post" && p === "/v1/api-keys");
      if (method !== "get" && keepsAnswer && o.tags?.some((t) => IDEMPOTENT_TAGS.has(t))) add(HEADERS.idempotencyKey);
      add(HEADERS.bookmark);
    }
  }
  return doc;
}

// OpenAPI 3.1's SPDX identifier (the generator's types know only 3.0's fields).
const license = { name: "Proprietary", identifier: "LicenseRef-Proprietary" };

export function describeApi(app: OpenAPIHono<AppEnv>) {
  registerAll(app);
  const document = describeHeaders(
    completeOperations(
      app.getOpenAPI31Document({
        openapi: "3.1.0",
        info: {
          title: "edge-groups",
          version: "0.1.0",
          description: "Multi-tenant user groups at the edge: every surface over one core.",
          license,
        },
        servers: [{ url: "/", description: "This deployment" }],
        tags: TAGS,
        security: [{ bearer: [] }],
      }),
    ),
  );
  // Built once: the routes are fixed when the app is built.
  app.get("/openapi.json", (c) => c.json(document));
}
