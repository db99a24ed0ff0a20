import { createExecutionContext, createScheduledController, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { sign } from "hono/jwt";
import { expect } from "vitest";
import { pendingClaimWrites } from "../src/coordinator/claims-writers";
import { shardBinding, shardNames } from "../src/core/shards/bindings";
import { tenantDatabase } from "../src/core/shards/directory";
import { WEBHOOK_SWEEP_CRON } from "../src/core/webhooks";
import type { Env } from "../src/env";
import worker from "../src/index";

export { env };

/**
 * The shard of the one placed tenant among a statement's bound values, for helpers that take any
 * statement; none of them a tenant (an EXPLAIN, say): the first shard, whose schema every shard shares.
 */
export async function shardOfBound(values: readonly unknown[]): Promise<D1Database> {
  const names = values.filter((v): v is string => typeof v === "string");
  const rows = await env.CONTROL.prepare("SELECT DISTINCT shard FROM tenant_shards WHERE tenant_id IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(names))
    .all<{ shard: string }>();
  if (rows.results.length > 1) throw new Error("a statement names tenants on different shards");
  return shardBinding(env, rows.results[0]?.shard ?? shardNames(env)[0]!);
}

/** Place a new tenant on a shard, as the operator does (PUT /vendor/tenants/{id}/placement). */
export async function placeOn(tenant: string, shard: string) {
  const res = await call("PUT", `/vendor/tenants/${encodeURIComponent(tenant)}/placement`, { token: await vendorToken(), body: { shard } });
  expect(res.status, res.text).toBe(201);
}

/**
 * Record the tenant on a shard in the directory itself, as a placement would: for shards the operator's call refuses
 * (one the deployment has no binding for) and for tests that place many tenants.
 */
export async function placeInDirectory(tenant: string, shard: string) {
  await env.CONTROL.prepare("INSERT INTO tenant_shards (tenant_id, shard, placed_at, placed_by) VALUES (?, ?, 0, 'test')")
    .bind(tenant, shard)
    .run();
}

/** A cron as Cloudflare runs it (the per-minute one by default), over these bindings; it rejects when a job failed. */
export async function runCron(cron = WEBHOOK_SWEEP_CRON, o: { env?: Env; scheduledTime?: number } = {}) {
  const ctx = createExecutionContext();
  await worker.scheduled!(createScheduledController({ scheduledTime: o.scheduledTime ?? Date.now(), cron }), o.env ?? env, ctx);
  await waitOnExecutionContext(ctx);
}

/** The tenant's shard (placing the tenant if it is new): where a test reads or arranges its stored rows. */
export async function shardOf(tenant: string): Promise<D1Database> {
  return (await tenantDatabase(env, tenant)).d1;
}

/**
 * Fence the tenant on its shard as a move's fence leaves its source (core/shards/move.ts setSourceState): the shard's
 * triggers refuse every write of its rows. Returns the call that lifts the fence.
 */
export async function fenceTenant(tenant: string): Promise<() => Promise<void>> {
  const db = await shardOf(tenant);
  await db.prepare("INSERT INTO tenant_moves_out (tenant_id, state) VALUES (?, 'fenced')").bind(tenant).run();
  return async () => {
    await db.prepare("DELETE FROM tenant_moves_out WHERE tenant_id = ?").bind(tenant).run();
  };
}

/** A small seeded generator of numbers in [0, 1): the same seed gives the same run, so a failing case can be run again. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

let counter = 0;
/** A tenant id no other test uses, so tests never see each other's rows. */
export function freshTenant(label = "t"): string {
  counter += 1;
  return `${label}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface TokenOptions {
  tenant: string;
  sub?: string;
  scope?: string;
  roles?: string[];
  ttl?: number;
  secret?: string;
  extra?: Record<string, unknown>;
}

export async function token(o: TokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign(
    {
      tenant_id: o.tenant,
      sub: o.sub ?? "tester",
      scope: o.scope ?? "groups:read groups:write",
      roles: o.roles ?? [],
      iat: now,
      exp: now + (o.ttl ?? 3600),
      ...o.extra,
    },
    o.secret ?? env.AUTH_DEV_SECRET!,
    "HS256",
  );
}

/** A token of the deployment's operator (vendor), which names the tenant it acts for in a header. */
export async function vendorToken(
  o: { sub?: string; scope?: string; ttl?: number; extra?: Record<string, unknown> } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign(
    {
      iss: env.VENDOR_ISSUER,
      aud: env.VENDOR_AUDIENCE,
      sub: o.sub ?? "ops",
      scope: o.scope ?? "admin",
      iat: now,
      exp: now + (o.ttl ?? 3600),
      ...o.extra,
    },
    env.VENDOR_DEV_SECRET!,
    "HS256",
  );
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  rawBody?: BodyInit;
  headers?: Record<string, string>;
}

export async function call(method: string, path: string, o: CallOptions = {}) {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  let body: BodyInit | undefined = o.rawBody;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await SELF.fetch(`http://groups.test${path}`, { method, headers, body });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** A client bound to one tenant's token. */
export async function client(tenant = freshTenant(), o: Partial<TokenOptions> = {}) {
  const t = await token({ tenant, ...o });
  return {
    tenant,
    token: t,
    get: (path: string) => call("GET", path, { token: t }),
    post: (path: string, body?: unknown) => call("POST", path, { token: t, body }),
    put: (path: string, body?: unknown) => call("PUT", path, { token: t, body }),
    patch: (path: string, body?: unknown) => call("PATCH", path, { token: t, body }),
    del: (path: string, body?: unknown) => call("DELETE", path, { token: t, body }),
  };
}

export type Client = Awaited<ReturnType<typeof client>>;

/** A fresh tenant's admin, and an API key of it to send analytics calls with (an SDK's write key). */
export async function analyticsWriteKey(scopes = ["group_api"]) {
  const admin = await client(undefined, { scope: "admin" });
  const key = (await admin.post("/v1/api-keys", { name: "web analytics", scopes })).json.result.secret as string;
  return { admin, key };
}

/** Base64 of a call's JSON (UTF-8), as a tracking pixel's sender encodes its ?data=. */
export const base64Json = (call: unknown) => btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(call))));

/** The user ids of a group's members, as the API lists them. */
export const memberIdsOf = async (admin: Client, group: string) =>
  (await admin.get(`/v1/groups/${group}/members`)).json?.result?.map((m: { user_id: string }) => m.user_id);

/** Provision users through SCIM, each a userName with one primary email; their SCIM ids, in order. */
export async function scimUsers(token: string, users: [userName: string, email: string][]): Promise<string[]> {
  const ids: string[] = [];
  for (const [userName, email] of users) {
    const made = await call("POST", "/scim/v2/Users", {
      token,
      body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName, emails: [{ value: email, primary: true }] },
    });
    expect(made.status, made.text).toBe(201);
    ids.push(made.json.id);
  }
  return ids;
}

export function expectError(res: { status: number; json: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.json)).toBe(status);
  expect(res.json?.error?.code).toBe(code);
  expect(typeof res.json?.error?.message).toBe("string");
}

/** Poll until check passes or the time is up; returns how long it took. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 2_000, stepMs = 25): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Wait until every claim of the tenant handed to a claims writer is written. */
export async function claimsWritten(tenantId: string, timeoutMs = 30_000) {
  await eventually(async () => (await pendingClaimWrites(env, tenantId)) === 0, timeoutMs, 50);
}

/** Whether no claim these groups' changes queued is left to refresh or write (each answer also counts the tenant's writers). */
export async function claimsCurrent(api: Client, groupIds: string[]): Promise<boolean> {
  for (const g of groupIds)
    if ((await api.get(`/v1/groups/${encodeURIComponent(g)}/claims-status`)).json.result.pending_refreshes !== 0) return false;
  return true;
}

/** Wait until claimsCurrent. */
export async function claimsSettled(api: Client, groupIds: string[], timeoutMs = 60_000) {
  await eventually(() => claimsCurrent(api, groupIds), timeoutMs, 100);
}

/**
 * Events written straight into the change stream (audit_log), as if changes had landed while
 * no dispatch ran: n of them, ids prefix1..prefixN, each the given stored action on group 'g'.
 * For tests that need thousands of events, which would take minutes through the API.
 */
export async function arrangeEvents(tenant: string, n: number, prefix: string, action: (i: string) => string = () => "'group.update'") {
  await (await shardOf(tenant))
    .prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
     INSERT INTO audit_log (tenant_id, id, at, actor, source, action, target_type, target_id, detail)
     SELECT ?, ? || i, ?, 'arranged', 'native', ${action("i")}, 'group', 'g', '{}' FROM n`,
    )
    .bind(n, tenant, prefix, Date.now())
    .run();
}

/** A surface as a test walks it: the path prefix, the headers a call there needs, and a check that an answer is an error in its own format. */
export type SurfaceErrors = [prefix: string, headers: Record<string, string>, format: (json: any) => void];

/**
 * Every surface whose routes read a credential from a header, with its error format for an
 * error of this kind and status: the native API, SCIM, seed 001, seed 004 and the operator's routes.
 */
export async function surfacesWithErrors(api: Client, kind: string, status: number): Promise<SurfaceErrors[]> {
  const vendor = await vendorToken();
  const bearer = { authorization: `Bearer ${api.token}` };
  return [
    ["/v1/", bearer, (j) => expect(j.error.code).toBe(kind)],
    [
      "/scim/",
      bearer,
      (j) => expect(j).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: String(status) }),
    ],
    ["/resources/", { ...bearer, "frontegg-tenant-id": api.tenant }, (j) => expect(j.errors).toHaveLength(1)],
    ["/kaizala/", bearer, (j) => expect(j.errorCode).toBe(kind)],
    ["/vendor/", { authorization: `Bearer ${vendor}` }, (j) => expect(j.error.code).toBe(kind)],
  ];
}
