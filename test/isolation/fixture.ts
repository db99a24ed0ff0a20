// The all-routes isolation tests' fixture: a victim tenant with data on every table, every
// route of the app with a body that would pass validation, attackers, and a snapshot of the
// victim's rows. Shared by isolation-all-routes.test.ts and the isolation-cross-tenant-N
// files, which split the cross-tenant walk: the test pool's SELF.fetch slows down with every
// request a test file has made (about 0.6 s a call after a thousand; cloudflare/workers-sdk#15446,
// open upstream), so one file per part keeps each walk fast.
import { expect, it } from "vitest";
import { SEGMENT_PATHS } from "../../src/api/tracking/segment";
import { buildApp } from "../../src/app";
import { claimKey } from "../../src/core/claims";
import { shardNames } from "../../src/core/shards/bindings";
import { base64Json, type Client, call, claimsSettled, client, env, eventually, freshTenant, placeOn, shardOf } from "../helpers";

const SHARDS = shardNames(env);

/** Routes anyone may call: the floor and the API description. */
export const PUBLIC = new Set(["GET /healthz", "GET /openapi.json", "GET /docs"]);

/**
 * Routes whose path id names something to create in the caller's own tenant, so another
 * tenant may get a 2xx: it made its own resource, and the victim's snapshot proves it.
 */
export const CREATES_BY_ID = new Set(["PUT /v1/users/:user_id"]);

export const MARK = `victim-${Math.random().toString(36).slice(2, 10)}`;

interface Victim {
  admin: Client;
  group: string;
  child: string;
  user: string;
  scimUser: string;
  role: string;
  key: string;
  webhook: string;
  /** An event delivered to the victim's webhook. */
  event: string;
  /** What the victim's own requests carried or got back, sent by the attacker. */
  carried: Record<string, string>;
}
export let victim: Victim;

/**
 * A tenant of its own for each route, so what one route let it create under the victim's ids
 * (in its own tenant) cannot answer the next. Its id starts with the victim's and a ":" (ids
 * may hold one), so a name or key joined from tenant and id, or a prefix match, would meet the victim's.
 */
let attackers = 0;
export async function freshAttacker() {
  const tenant = `${victim.admin.tenant}:${freshTenant("attacker")}`;
  // Attackers on the victim's shard and on each other shard in turn: a shard never widens a tenant.
  attackers += 1;
  await placeOn(tenant, SHARDS[attackers % SHARDS.length]!);
  const admin = await client(tenant, { scope: "admin", sub: "attacker-admin" });
  const key = (await admin.post("/v1/api-keys", { name: "attacker key", scopes: ["admin"] })).json.result.secret as string;
  // A URL may carry only an analytics write key (the beacon's and the pixel's rule): the key that gets that far.
  const writeKey = (await admin.post("/v1/api-keys", { name: "attacker write key", scopes: ["group_api"] })).json.result.secret as string;
  return { jwt: admin.token, key, writeKey };
}

const TABLES = [
  "groups",
  "group_traits",
  "users",
  "memberships",
  "group_rules",
  "group_edges",
  "roles",
  "group_roles",
  "user_roles",
  "tenant_config",
  "tracking_messages",
  "audit_log",
  "api_keys",
  "webhook_endpoints",
  "webhook_deliveries",
];

/**
 * Every row the victim has, in a stable order. Two fields move without a change of the victim's
 * data: the key's last use, and a webhook's outbox position (enqueued_through), which the
 * victim's own writes advance after their answer; an event the attacker caused would show in audit_log.
 */
export async function snapshot(tenant: string): Promise<string> {
  const db = await shardOf(tenant);
  const results = await db.batch(
    TABLES.map((table) => db.prepare(`SELECT * FROM ${table} WHERE tenant_id = ? ORDER BY 1, 2, 3`).bind(tenant)),
  );
  const parts: unknown[] = results.map((r, i) => [
    TABLES[i],
    r.results.map((row) => ({ ...(row as object), last_used_at: undefined, enqueued_through: undefined })),
  ]);
  parts.push(["claim", await env.CLAIMS.get(claimKey(tenant, victim.user))]);
  return JSON.stringify(parts);
}

export function routes() {
  const seen = new Set<string>();
  const out: { method: string; path: string; key: string }[] = [];
  for (const r of buildApp().routes) {
    if (r.method === "ALL" || r.path.endsWith("*")) continue; // middleware and catch-alls
    const key = `${r.method} ${r.path}`;
    if (PUBLIC.has(key) || seen.has(key)) continue;
    seen.add(key);
    out.push({ method: r.method, path: r.path, key });
  }
  return out;
}

/** The route's path with the victim's ids in it. */
function concrete(path: string): string {
  const v = victim;
  const scimUsers = path.includes("/Users/");
  return path.replace(/:(\w+)/g, (_, name: string) => {
    const id: Record<string, string> = {
      group_id: v.group,
      groupId: v.group,
      id: scimUsers ? v.scimUser : v.group,
      user_id: v.user,
      role_id: v.role,
      key_id: v.key,
      webhook_id: v.webhook,
      event_id: v.event,
      tenant: v.admin.tenant,
    };
    if (!(name in id)) throw new Error(`no victim id for the path parameter :${name} in ${path}: add it to concrete()`);
    return encodeURIComponent(id[name]!);
  });
}

/** A body that passes validation, naming the victim's ids wherever the body takes ids. */
export function body(key: string): unknown {
  const v = victim;
  const scimPatch = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
  const bodies: Record<string, unknown> = {
    "POST /v1/batch": { batch: [{ type: "group", userId: v.user, groupId: v.group, traits: { plan: "hijacked" } }] },
    "POST /v1/group": { userId: v.user, groupId: v.group, traits: { plan: "hijacked" } },
    "POST /v1/identify": { userId: v.user, traits: { email: "hijacked@example.com" } },
    "POST /v1/track": { userId: v.user, event: "x" },
    "POST /v1/page": { userId: v.user, name: "x" },
    "POST /v1/screen": { userId: v.user, name: "x" },
    "POST /v1/alias": { userId: v.user, previousId: "x" },
    "POST /v1/groups": { name: "planted" },
    "PUT /vendor/tenants/:tenant/placement": { shard: "DB_3" },
    "POST /vendor/tenants/:tenant/move": { to: "DB_3" },
    "PUT /v1/groups/:group_id": { name: "hijacked" },
    "PATCH /v1/groups/:group_id": { name: "hijacked" },
    "POST /v1/groups/:group_id/members": { user_ids: ["mallory"] },
    "PUT /v1/groups/:group_id/members": { user_ids: ["mallory"] },
    "DELETE /v1/groups/:group_id/members": { user_ids: [v.user] },
    "PATCH /v1/groups/:group_id/members/:user_id": { role: "admin" },
    "PUT /v1/users/:user_id": { name: "hijacked" },
    "PATCH /v1/users/:user_id": { name: "hijacked" },
    "PATCH /v1/config": { maxHierarchyDepth: 2 },
    "POST /v1/roles": { key: "planted", name: "Planted", level: 0 },
    "PATCH /v1/roles/:role_id": { name: "hijacked" },
    "POST /v1/groups/:group_id/roles": { role_ids: [v.role] },
    "DELETE /v1/groups/:group_id/roles": { role_ids: [v.role] },
    "POST /v1/users/:user_id/roles": { role_ids: [v.role] },
    "DELETE /v1/users/:user_id/roles": { role_ids: [v.role] },
    "POST /v1/groups/:group_id/children": { group_ids: [v.child] },
    "DELETE /v1/groups/:group_id/children": { group_ids: [v.child] },
    "POST /v1/api-keys": { name: "planted", scopes: ["admin"] },
    "POST /v1/webhooks": { url: "https://hooks.test/ok/planted" },
    "PUT /v1/groups/:group_id/rule": { expression: "user_id pr" },
    "POST /v1/rules/preview": { expression: `email ew "@example.com" or name co "${MARK}" or user_id eq "victim-user"` },
    "PATCH /v1/webhooks/:webhook_id": { url: "https://hooks.test/ok/hijacked", paused: true },
    "POST /v1/webhooks/:webhook_id/deliveries/:event_id/redeliver": {},
    "POST /v1/webhooks/:webhook_id/rotate-secret": { grace_seconds: 0 },
    "POST /api/group": [
      { user_id: v.user, group_id: v.group, timestamp: "2026-01-01T00:00:00Z", traits: { group_type: "Team", name: "hijacked" } },
    ],
    "POST /group": { user_id: v.user, group_id: v.group, timestamp: "2026-01-01T00:00:00Z", traits: { name: "hijacked" } },
    "POST /hooks/okta/token": { data: { context: { user: { id: "00uVictim", profile: { login: `${MARK}@example.com` } } } } },
    "POST /resources/groups/v1/config": { enabled: false },
    "POST /resources/groups/v1": { name: "planted" },
    "POST /resources/groups/v1/bulkGet": { groupsIds: [v.group] },
    "PATCH /resources/groups/v1/:id": { name: "hijacked" },
    "POST /resources/groups/v1/:groupId/roles": { roleIds: [v.role] },
    "DELETE /resources/groups/v1/:groupId/roles": { roleIds: [v.role] },
    "POST /resources/groups/v1/:groupId/users": { userIds: ["mallory"] },
    "DELETE /resources/groups/v1/:groupId/users": { userIds: [v.user] },
    "POST /kaizala/v1/groups": { name: "planted", welcomeMessage: "hi", members: [] },
    "POST /scim/v2/Users": { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "planted-user" },
    "PUT /scim/v2/Users/:id": { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "hijacked" },
    "PATCH /scim/v2/Users/:id": { schemas: [scimPatch], Operations: [{ op: "replace", path: "active", value: false }] },
    "POST /scim/v2/Groups": { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "planted" },
    "PUT /scim/v2/Groups/:id": { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "hijacked" },
    "PATCH /scim/v2/Groups/:id": { schemas: [scimPatch], Operations: [{ op: "add", path: "members", value: [{ value: "mallory" }] }] },
    "POST /scim/v2/Bulk": {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
      Operations: [
        { method: "DELETE", path: `/Groups/${v.group}` },
        {
          method: "PATCH",
          path: `/Users/${v.scimUser}`,
          data: { schemas: [scimPatch], Operations: [{ op: "replace", path: "active", value: false }] },
        },
      ],
    },
  };
  // analytics.js's one-letter paths, and RudderStack's beacon, take what their routes take.
  for (const [path, short] of Object.values(SEGMENT_PATHS)) bodies[`POST /v1${short}`] = bodies[`POST /v1${path}`];
  bodies["POST /beacon/v1/batch"] = bodies["POST /v1/batch"];
  return bodies[key];
}

type Route = { method: string; path: string; key: string };

const PIXEL = /^\/v1\/pixel\/(\w+)$/;

/** A tracking pixel's ?data=: the call its route records (the Segment route's body), with a write key in it if given. */
function pixelQuery(route: Route, writeKey?: string): string {
  const type = route.path.match(PIXEL)?.[1];
  if (type === undefined) return "";
  const call = { ...(body(`POST /v1/${type}`) as object), ...(writeKey ? { writeKey } : {}) };
  return `?data=${encodeURIComponent(base64Json(call))}`;
}

export async function send(route: Route, credential: string | undefined, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { ...headers };
  if (credential) h.authorization = route.path.startsWith("/hooks/") ? credential : `Bearer ${credential}`;
  return call(route.method, concrete(route.path) + pixelQuery(route), { body: body(route.key), headers: h });
}

/**
 * Where an analytics SDK puts the credential instead of a header, for the routes that take it there: the Segment
 * routes' body writeKey, the beacon's ?writeKey= and the pixel's data. undefined: the route takes a header only.
 */
export function keyElsewhere(route: Route, key: string): { url: string; body?: unknown } | undefined {
  const path = concrete(route.path);
  const b = body(route.key);
  if (PIXEL.test(route.path)) return { url: path + pixelQuery(route, key) };
  if (route.key === "POST /beacon/v1/batch") return { url: `${path}?writeKey=${encodeURIComponent(key)}`, body: b };
  const segment = route.method === "POST" && SEGMENT_ROUTES.has(route.path);
  if (segment && b && typeof b === "object" && !Array.isArray(b)) return { url: path, body: { ...b, writeKey: key } };
  return undefined;
}

/** The Segment routes' paths, the one-letter ones of analytics.js too. */
const SEGMENT_ROUTES = new Set(Object.values(SEGMENT_PATHS).flatMap((paths) => paths.map((p) => `/v1${p}`)));

export const NAMING_VICTIM = () => ({
  "frontegg-tenant-id": victim.admin.tenant,
  "x-tenant-id": victim.admin.tenant,
  "tenant-id": victim.admin.tenant,
});

/** The victim: its data on every table the routes touch, a delivered webhook event, and what its own requests carried. */
export async function setUpVictim() {
  const victimTenant = freshTenant("victim");
  await placeOn(victimTenant, "DB_2");
  const admin = await client(victimTenant, { scope: "admin", sub: "victim-admin" });
  const group = (await admin.post("/v1/groups", { name: `${MARK} group`, custom_data: { secret: MARK } })).json.result.group_id;
  const child = (await admin.post("/v1/groups", { name: `${MARK} child` })).json.result.group_id;
  await admin.put("/v1/users/victim-user", { email: `${MARK}@example.com`, name: `${MARK} person` });
  await admin.post(`/v1/groups/${group}/members`, { user_ids: ["victim-user"] });
  await admin.post(`/v1/groups/${group}/children`, { group_ids: [child] });
  // A rule on the child that holds the victim's user (so a rule's writes and its rule-held membership are in the snapshot).
  expect((await admin.put(`/v1/groups/${child}/rule`, { expression: 'user_id eq "victim-user"' })).status).toBe(201);
  const role = (await admin.post("/v1/roles", { key: "owner", name: `${MARK} role`, level: 1 })).json.result.role_id;
  await admin.post(`/v1/groups/${group}/roles`, { role_ids: [role] });
  await admin.post(`/v1/users/victim-user/roles`, { role_ids: [role] });
  const scimUser = (
    await call("POST", "/scim/v2/Users", {
      token: admin.token,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: `${MARK}.scim` },
    })
  ).json.id;
  const key = (await admin.post("/v1/api-keys", { name: `${MARK} key`, scopes: ["groups:read"] })).json.result.key_id;
  // A webhook of group renames only, with one delivered event (the victim's later writes send nothing to it).
  const webhook = (await admin.post("/v1/webhooks", { url: `https://hooks.test/ok/${MARK}`, types: ["group.updated"] })).json.result
    .webhook_id;
  await admin.patch(`/v1/groups/${group}`, { description: `${MARK} renamed` });
  let event = "";
  await eventually(async () => {
    const [d] = (await admin.get(`/v1/webhooks/${webhook}/deliveries?status=delivered`)).json.result;
    event = d?.event_id ?? "";
    return event !== "";
  }, 15_000);
  await admin.get(`/v1/users/victim-user/claims`);
  victim = { admin, group, child, user: "victim-user", scimUser, role, key, webhook, event, carried: {} };
  // A keyed write with the very body the attacker will send to the same route: only the key's owner may replay it.
  const idempotencyKey = `${MARK}-key`;
  const keyed = await call("POST", "/v1/groups", {
    token: admin.token,
    body: body("POST /v1/groups"),
    headers: { "idempotency-key": idempotencyKey },
  });
  expect(keyed.status, keyed.text).toBe(201);
  const read = await admin.get(`/v1/groups/${group}`);
  victim.carried = {
    "if-match": read.headers.get("etag")!,
    "if-none-match": read.headers.get("etag")!,
    "idempotency-key": idempotencyKey,
    "x-d1-bookmark": read.headers.get("x-d1-bookmark") ?? "",
  };
  for (const v of Object.values(victim)) expect(v).toBeTruthy();

  // Let the victim's own work after its answers (claims refreshes, webhook dispatch) finish: no claim write
  // pending (a writer may wait out KV's one write a second per key, longer than the snapshots below are apart),
  // then two snapshots 300 ms apart agree. Four files set up their victims at once, so a fixed wait is not enough.
  await claimsSettled(admin, [group, child]);
  await eventually(async () => {
    const first = await snapshot(victimTenant);
    await new Promise((r) => setTimeout(r, 300));
    return (await snapshot(victimTenant)) === first;
  }, 15_000);
}

/** The cross-tenant walk is split over this many test files, isolation-cross-tenant-1 to -4: route i goes to part i % 4 + 1. */
export const CROSS_TENANT_PARTS = 4;

export const routesOfPart = (part: number) => routes().filter((_, i) => i % CROSS_TENANT_PARTS === part - 1);

/** Another tenant's admin JWT and admin API key, on each route of one part: the victim unchanged and never in the answer. */
export function crossTenantWalk(part: number) {
  it(`never lets another tenant's admin JWT, admin API key or write key read or change the victim, on every route (part ${part} of ${CROSS_TENANT_PARTS})`, async () => {
    const before = await snapshot(victim.admin.tenant);
    for (const route of routesOfPart(part)) {
      const attacker = await freshAttacker();
      for (const [who, credential] of [
        ["admin JWT", attacker.jwt],
        ["admin API key", attacker.key],
      ] as const) {
        for (const [how, headers] of [
          ["", {}],
          [", naming the victim", NAMING_VICTIM()],
          [", with the victim's tag, key and bookmark", victim.carried],
        ] as const) {
          const res = await send(route, credential, headers);
          const where = `${route.key} (${who}${how}): ${res.status} ${res.text.slice(0, 300)}`;
          expect(res.headers.get("idempotent-replayed"), where).toBeNull();
          expect(res.status, where).toBeLessThan(500);
          expect(res.text, where).not.toContain(MARK);
          const namesVictimResource = route.path.includes(":") && !CREATES_BY_ID.has(route.key);
          if (namesVictimResource) expect([403, 404], where).toContain(res.status);
          if (route.path.startsWith("/resources/groups") && how === ", naming the victim") expect(res.status, where).toBe(403);
          expect(await snapshot(victim.admin.tenant), where).toBe(before);
        }
      }
      for (const [who, key] of [
        ["admin API key", attacker.key],
        ["analytics write key", attacker.writeKey],
      ] as const) {
        const request = keyElsewhere(route, key);
        if (request === undefined) continue;
        const res = await call(route.method, request.url, { body: request.body });
        const where = `${route.key} (${who} in the body or URL): ${res.status} ${res.text.slice(0, 300)}`;
        // The write key is taken everywhere (the call lands in the attacker's own tenant); an admin key is refused in a URL.
        if (who === "analytics write key") expect(res.status, where).toBe(200);
        else expect(res.status, where).toBeLessThan(500);
        expect(res.text, where).not.toContain(MARK);
        expect(await snapshot(victim.admin.tenant), where).toBe(before);
      }
    }
    // Six requests and six snapshots per route, over a quarter of the routes: more than the default minute as the API grows.
  }, 180_000);
}
