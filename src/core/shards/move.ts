// Moving a tenant to another shard while its API stays up (ARCHITECTURE.md "Shards").
//
//   copying   the source logs every write to the tenant's rows (migration 0013's triggers) while
//             the rows are copied in chunks, table by table, in primary-key order;
//   fenced    the source refuses the tenant's writes (503, Retry-After); the logged rows are copied again;
//   switched  the target refuses writes too, the directory names the target; for the directory's
//             cache lifetime no isolate can still act on the source;
//   settled   the target takes writes; after another cache lifetime nothing reads the source;
//   done      the source's rows are deleted and a tombstone refuses any late write there.
//
// Each step is idempotent and its state is kept in the control database, so a move cut off at
// any point (a crash, a spent invocation) resumes where it stopped; until the switch it can also
// be rolled back, which leaves the tenant whole on the source.
import type { Env } from "../../env";
import { Budget } from "../shared/budget";
import { CoreError } from "../shared/errors";
import { controlPrimary, directoryTtl, shardBinding, shardNames } from "./bindings";
import { forgetPlacement, tenantShard } from "./directory";
import { TENANT_TABLES, type TenantTable } from "./tenant-tables";

/** Rows read from the source per statement, and the most JSON one write carries (D1 takes 2 MB a value). */
const CHUNK_ROWS = 1_000;
const WRITE_BYTES = 1_000_000;
/** Subrequests one call of advanceMove may spend (an invocation has 1,000). */
export const MOVE_BUDGET = 600;

export type MoveState = "copying" | "fenced" | "switched" | "settled" | "done" | "rolled_back";

export interface MoveRow {
  tenantId: string;
  fromShard: string;
  toShard: string;
  state: MoveState;
  progress: Progress;
  copied: number;
  caughtUp: number;
  stateAt: number;
  startedAt: number;
  finishedAt: number | null;
}

interface Progress {
  /** Index in TENANT_TABLES of the table being copied (or cleaned), and the last key done. */
  table?: number;
  after?: unknown[] | null;
  /** Every event copied to the target gets a cursor above this (core/shards/move.ts "events"). */
  floor?: number;
  /** The last tenant_move_log id the catch-up has applied. */
  logDone?: number;
}

type Row = Record<string, unknown>;

/** Bind numbered parameters ?1..?n: D1 refuses more values than the statement's highest number. */
function prepared(db: D1Database, text: string, ...values: unknown[]): D1PreparedStatement {
  const highest = Math.max(0, ...[...text.matchAll(/\?(\d+)/g)].map((m) => Number(m[1])));
  return db.prepare(text).bind(...values.slice(0, highest));
}

const now = () => Date.now();

export async function readMove(env: Env, tenantId: string): Promise<MoveRow | null> {
  const r = await controlPrimary(env).prepare("SELECT * FROM tenant_moves WHERE tenant_id = ?").bind(tenantId).first<Row>();
  if (!r) return null;
  return {
    tenantId: r.tenant_id as string,
    fromShard: r.from_shard as string,
    toShard: r.to_shard as string,
    state: r.state as MoveState,
    progress: JSON.parse(r.progress as string) as Progress,
    copied: r.copied as number,
    caughtUp: r.caught_up as number,
    stateAt: r.state_at as number,
    startedAt: r.started_at as number,
    finishedAt: (r.finished_at as number | null) ?? null,
  };
}

/** Another driver (a rollback, say) changed the move's state first: this one stops. */
class MoveChanged extends Error {}

/** The move's next state and progress, only if it is still in the state this driver read. */
function saveStatement(env: Env, m: MoveRow, changes: Partial<MoveRow>) {
  const next = { ...m, ...changes };
  const at = now();
  const stateAt = changes.state && changes.state !== m.state ? at : m.stateAt;
  const statement = controlPrimary(env)
    .prepare(
      `UPDATE tenant_moves SET state = ?, progress = ?, copied = ?, caught_up = ?, updated_at = ?, state_at = ?, finished_at = ?
       WHERE tenant_id = ? AND state = ?`,
    )
    .bind(next.state, JSON.stringify(next.progress), next.copied, next.caughtUp, at, stateAt, next.finishedAt, m.tenantId, m.state);
  return { statement, apply: () => Object.assign(m, next, { stateAt }) };
}

async function save(env: Env, m: MoveRow, changes: Partial<MoveRow>) {
  const { statement, apply } = saveStatement(env, m, changes);
  if (((await statement.run()).meta.changes ?? 0) === 0) throw new MoveChanged(`the move of ${m.tenantId} changed under this driver`);
  apply();
}

/** A move that has neither finished nor been rolled back. */
export const isActive = (m: MoveRow | null) => m !== null && m.state !== "done" && m.state !== "rolled_back";

/** Begin a move (409 while another move of the tenant runs; 400 for an unknown or the current shard). */
export async function startMove(env: Env, tenantId: string, to: string, vendor: string): Promise<MoveRow> {
  if (!shardNames(env).includes(to))
    throw new CoreError("invalid", `unknown shard ${to}: this deployment has ${shardNames(env).join(", ")}`);
  const existing = await readMove(env, tenantId);
  if (isActive(existing))
    throw new CoreError("conflict", `tenant ${tenantId} is already moving to ${existing!.toShard} (${existing!.state})`);
  const from = await tenantShard(env, tenantId);
  if (from === to) throw new CoreError("invalid", `tenant ${tenantId} already lives on ${to}`);
  const source = shardBinding(env, from);
  const target = shardBinding(env, to);
  // Leftovers of an earlier stay on the target (a tombstone, rows of a rolled-back copy) go first.
  await target.batch([
    target.prepare("DELETE FROM tenant_moves_out WHERE tenant_id = ?").bind(tenantId),
    target.prepare("DELETE FROM moved_event_cursors WHERE tenant_id = ?").bind(tenantId),
  ]);
  await deleteTenantRows(env, target, tenantId, new Budget(Number.POSITIVE_INFINITY));
  const floor = await eventFloor(source, target, tenantId);
  // Cursors up to the source's retention horizon (or 0) map to the floor: a reader there resumes before the first moved event.
  const horizon = await source
    .prepare("SELECT coalesce((SELECT purged_through FROM event_horizons WHERE tenant_id = ?), 0) AS h")
    .bind(tenantId)
    .first<{ h: number }>();
  await target
    .prepare("INSERT OR REPLACE INTO moved_event_cursors (tenant_id, old_cursor, new_cursor) VALUES (?, ?, ?)")
    .bind(tenantId, horizon?.h ?? 0, floor)
    .run();
  // Before the move is recorded (a crash between the two leaves only a log that the next start clears): from here on every write of the tenant on the source is logged for the catch-up.
  await source.batch([
    source.prepare("DELETE FROM tenant_move_log WHERE tenant_id = ?").bind(tenantId),
    source
      .prepare("INSERT INTO tenant_moves_out (tenant_id, state) VALUES (?, 'copying') ON CONFLICT DO UPDATE SET state = 'copying'")
      .bind(tenantId),
  ]);
  const at = now();
  await controlPrimary(env)
    .prepare(
      `INSERT INTO tenant_moves (tenant_id, from_shard, to_shard, state, progress, copied, caught_up, requested_by, started_at, updated_at, state_at, finished_at, error)
       VALUES (?1, ?2, ?3, 'copying', ?4, 0, 0, ?5, ?6, ?6, ?6, NULL, NULL)
       ON CONFLICT (tenant_id) DO UPDATE SET from_shard = ?2, to_shard = ?3, state = 'copying', progress = ?4, copied = 0, caught_up = 0,
         requested_by = ?5, started_at = ?6, updated_at = ?6, state_at = ?6, finished_at = NULL, error = NULL`,
    )
    .bind(tenantId, from, to, JSON.stringify({ table: 0, after: null, floor, logDone: 0 }), vendor, at)
    .run();
  return (await readMove(env, tenantId))!;
}

/**
 * The cursor every copied event's new cursor is above: the tenant's highest on the source and the
 * target's highest (a value the target handed out to an event since purged may be used again: that
 * event is gone, and every reader names its tenant). SQLite's own sequence is not read: D1 may not allow it.
 */
async function eventFloor(source: D1Database, target: D1Database, tenantId: string): Promise<number> {
  const [s, t] = await Promise.all([
    source.prepare("SELECT coalesce(max(cursor), 0) AS c FROM audit_log WHERE tenant_id = ?").bind(tenantId).first<{ c: number }>(),
    target.prepare("SELECT coalesce((SELECT max(cursor) FROM audit_log), 0) AS c").first<{ c: number }>(),
  ]);
  return Math.max(s?.c ?? 0, t?.c ?? 0);
}

const keyColumns = (t: TenantTable) => t.key.map((c) => `"${c}"`).join(", ");

/** The tenant's next rows of a table after a key, in key order. */
async function readChunk(source: D1Database, tenantId: string, t: TenantTable, after: unknown[] | null | undefined): Promise<Row[]> {
  const order = t.key.length ? `ORDER BY ${keyColumns(t)}` : "";
  const past = after && t.key.length ? `AND (${keyColumns(t)}) > (${t.key.map(() => "?").join(", ")})` : "";
  const r = await source
    .prepare(`SELECT * FROM "${t.name}" WHERE tenant_id = ? ${past} ${order} LIMIT ${CHUNK_ROWS}`)
    .bind(tenantId, ...(after && t.key.length ? after : []))
    .all<Row>();
  return r.results;
}

/** Rows split so that each write's JSON stays within what D1 takes as one value. */
function pieces(rows: Row[]): Row[][] {
  const out: Row[][] = [];
  let piece: Row[] = [];
  let bytes = 0;
  for (const r of rows) {
    const size = JSON.stringify(r).length;
    if (piece.length > 0 && bytes + size > WRITE_BYTES) {
      out.push(piece);
      piece = [];
      bytes = 0;
    }
    piece.push(r);
    bytes += size;
  }
  if (piece.length) out.push(piece);
  return out;
}

const columnsOf = (rows: Row[]) => Object.keys(rows[0]!);
const jsonColumns = (cols: string[], except: string[] = []) => cols.filter((c) => !except.includes(c)).map((c) => `j.value ->> '$.${c}'`);

/**
 * The statements that write these rows of the tenant on the target. Events get new cursors (the
 * target's sequence is its own), mapped in moved_event_cursors; what names an event by cursor
 * (webhook deliveries, endpoints' and horizons' positions) is translated through that map.
 */
function writeStatements(target: D1Database, tenantId: string, t: TenantTable, rows: Row[], floor: number): D1PreparedStatement[] {
  const cols = columnsOf(rows);
  const list = (names: string[]) => names.map((c) => `"${c}"`).join(", ");
  const json = JSON.stringify(rows);
  const newCursorOf = (oldExpr: string) =>
    `coalesce((SELECT max(new_cursor) FROM moved_event_cursors WHERE tenant_id = ?1 AND old_cursor <= ${oldExpr}), ?3)`;
  if (t.name === "audit_log") {
    const rest = cols.filter((c) => c !== "cursor");
    return [
      target
        .prepare(
          `INSERT OR IGNORE INTO moved_event_cursors (tenant_id, old_cursor, new_cursor)
           SELECT ?1, j.value ->> '$.cursor', b.base + j.key + 1 FROM json_each(?2) j,
             (SELECT max(?3, coalesce((SELECT max(cursor) FROM audit_log), 0)) AS base) b`,
        )
        .bind(tenantId, json, floor),
      target
        .prepare(
          `INSERT OR IGNORE INTO audit_log ("cursor", ${list(rest)})
           SELECT m.new_cursor, ${jsonColumns(rest).join(", ")} FROM json_each(?2) j
           JOIN moved_event_cursors m ON m.tenant_id = ?1 AND m.old_cursor = j.value ->> '$.cursor'`,
        )
        .bind(tenantId, json),
    ];
  }
  const values = cols.map((c) => {
    if (t.name === "webhook_deliveries" && c === "cursor")
      return `(SELECT new_cursor FROM moved_event_cursors WHERE tenant_id = ?1 AND old_cursor = j.value ->> '$.cursor')`;
    if (t.name === "webhook_endpoints" && c === "enqueued_through") return newCursorOf(`j.value ->> '$.enqueued_through'`);
    if (t.name === "event_horizons" && c === "purged_through") return newCursorOf(`j.value ->> '$.purged_through'`);
    return `j.value ->> '$.${c}'`;
  });
  // A delivery whose event is gone (past retention) has nothing left to deliver.
  const where = t.name === "webhook_deliveries" ? `WHERE ${values[cols.indexOf("cursor")]} IS NOT NULL` : "";
  return [
    prepared(
      target,
      `INSERT OR REPLACE INTO "${t.name}" (${list(cols)}) SELECT ${values.join(", ")} FROM json_each(?2) j ${where}`,
      tenantId,
      json,
      floor,
    ),
  ];
}

async function writeRows(target: D1Database, tenantId: string, t: TenantTable, rows: Row[], floor: number, budget: Budget) {
  for (const piece of pieces(rows)) {
    await target.batch(writeStatements(target, tenantId, t, piece, floor));
    budget.take();
  }
}

/** Copy chunks until every table is done or the budget is spent; true when done. */
async function copy(env: Env, m: MoveRow, budget: Budget): Promise<boolean> {
  const source = shardBinding(env, m.fromShard);
  const target = shardBinding(env, m.toShard);
  while (budget.left > 4) {
    const i = m.progress.table ?? 0;
    const t = TENANT_TABLES[i];
    if (!t) return true;
    const rows = await readChunk(source, m.tenantId, t, m.progress.after);
    budget.take();
    if (rows.length) await writeRows(target, m.tenantId, t, rows, m.progress.floor ?? 0, budget);
    const last = rows.at(-1);
    const finished = rows.length < CHUNK_ROWS || t.key.length === 0;
    const progress: Progress = finished
      ? { ...m.progress, table: i + 1, after: null }
      : { ...m.progress, after: t.key.map((c) => last![c]) };
    await save(env, m, { progress, copied: m.copied + rows.length });
    budget.take();
  }
  return false;
}

interface LogEntry {
  id: number;
  table_name: string;
  row_key: string;
}

/** Copy again the rows the tenant's writes touched since the copy began (deleting what is gone); true when none is left. */
async function catchUp(env: Env, m: MoveRow, budget: Budget): Promise<boolean> {
  const source = shardBinding(env, m.fromShard);
  const target = shardBinding(env, m.toShard);
  while (budget.left > 6) {
    const log = await source
      .prepare("SELECT id, table_name, row_key FROM tenant_move_log WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?")
      .bind(m.tenantId, m.progress.logDone ?? 0, CHUNK_ROWS)
      .all<LogEntry>();
    budget.take();
    if (log.results.length === 0) return true;
    // Table by table in copy order (events before what names them); each key once.
    for (const t of TENANT_TABLES) {
      const keys = [...new Set(log.results.filter((e) => e.table_name === t.name).map((e) => e.row_key))];
      if (keys.length === 0) continue;
      await recopy(source, target, m, t, keys, budget);
    }
    await save(env, m, {
      progress: { ...m.progress, logDone: log.results.at(-1)!.id },
      caughtUp: m.caughtUp + log.results.length,
    });
    budget.take();
  }
  return false;
}

/** The rows with these keys, as the source has them now: written again on the target, or deleted there. */
async function recopy(source: D1Database, target: D1Database, m: MoveRow, t: TenantTable, keys: string[], budget: Budget) {
  const match = t.key.length ? `AND json_array(${t.key.map((c) => `"${c}"`).join(", ")}) IN (SELECT value FROM json_each(?2))` : "";
  const rows = await prepared(
    source,
    `SELECT * FROM "${t.name}" WHERE tenant_id = ?1 ${match}`,
    m.tenantId,
    JSON.stringify(keys),
  ).all<Row>();
  budget.take();
  const present = new Set(rows.results.map((r) => JSON.stringify(t.key.map((c) => r[c]))));
  const gone = keys.filter((k) => !present.has(JSON.stringify(JSON.parse(k))));
  if (gone.length) {
    // An event is found on the target by its mapped cursor.
    const targetKey =
      t.name === "audit_log"
        ? `"cursor" IN (SELECT new_cursor FROM moved_event_cursors WHERE tenant_id = ?1 AND json_array(old_cursor) IN (SELECT value FROM json_each(?2)))`
        : t.name === "webhook_deliveries"
          ? `json_array(endpoint_id, (SELECT old_cursor FROM moved_event_cursors c WHERE c.tenant_id = ?1 AND c.new_cursor = "cursor")) IN (SELECT value FROM json_each(?2))`
          : t.key.length
            ? `json_array(${keyColumns(t)}) IN (SELECT value FROM json_each(?2))`
            : "1";
    await prepared(target, `DELETE FROM "${t.name}" WHERE tenant_id = ?1 AND ${targetKey}`, m.tenantId, JSON.stringify(gone)).run();
    budget.take();
  }
  if (rows.results.length) await writeRows(target, m.tenantId, t, rows.results, m.progress.floor ?? 0, budget);
}

/** Delete a tenant's rows of every table, a chunk at a time; true when none is left. */
async function deleteTenantRows(env: Env, db: D1Database, tenantId: string, budget: Budget, m?: MoveRow): Promise<boolean> {
  const tables = [...TENANT_TABLES].reverse();
  while (budget.left > 3) {
    const statements = tables.map((t) =>
      db.prepare(`DELETE FROM "${t.name}" WHERE rowid IN (SELECT rowid FROM "${t.name}" WHERE tenant_id = ? LIMIT 1000)`).bind(tenantId),
    );
    const results = await db.batch(statements);
    budget.take();
    if (m) await save(env, m, {});
    if (results.every((r) => (r.meta.changes ?? 0) < 1000)) return true;
  }
  return false;
}

async function setSourceState(env: Env, m: MoveRow, state: "fenced" | "cleaning" | "moved") {
  await shardBinding(env, m.fromShard).prepare("UPDATE tenant_moves_out SET state = ? WHERE tenant_id = ?").bind(state, m.tenantId).run();
}

/**
 * Take the move as far as it can go now: until it is done, waits for the directory's cache to
 * expire, or has spent `limit` subrequests. Answers the move as it stands, and how long to wait
 * before calling again (0: at once).
 */
export async function advanceMove(
  env: Env,
  tenantId: string,
  limit: number | Budget = MOVE_BUDGET,
): Promise<{ move: MoveRow; waitMs: number; spent: number } | null> {
  const m = await readMove(env, tenantId);
  if (!m) return null;
  const budget = typeof limit === "number" ? new Budget(limit) : limit;
  try {
    return await drive(env, m, budget);
  } catch (e) {
    if (!(e instanceof MoveChanged)) throw e;
    return { move: (await readMove(env, tenantId))!, waitMs: 0, spent: budget.spent };
  }
}

async function drive(env: Env, m: MoveRow, budget: Budget): Promise<{ move: MoveRow; waitMs: number; spent: number }> {
  const tenantId = m.tenantId;
  const ttl = directoryTtl(env);
  for (;;) {
    switch (m.state) {
      case "copying": {
        if (!(await copy(env, m, budget))) return { move: m, waitMs: 0, spent: budget.spent };
        // A first catch-up while writes still flow keeps the fence short.
        if (!(await catchUp(env, m, budget))) return { move: m, waitMs: 0, spent: budget.spent };
        // Recorded first: a rollback that came in between wins, and this driver stops here.
        await save(env, m, { state: "fenced" });
        break;
      }
      case "fenced": {
        // (Again after a crash: the fence must hold before the last catch-up, or a write could slip past it.)
        await setSourceState(env, m, "fenced");
        if (!(await catchUp(env, m, budget))) return { move: m, waitMs: 0, spent: budget.spent };
        const target = shardBinding(env, m.toShard);
        await target.batch([
          // Readers that resume from a cursor of the source are told to resync (410).
          target
            .prepare(
              `INSERT INTO event_horizons (tenant_id, purged_through, purged_at) VALUES (?1, ?2, ?3)
               ON CONFLICT (tenant_id) DO UPDATE SET purged_through = max(purged_through, ?2), purged_at = ?3`,
            )
            .bind(tenantId, m.progress.floor ?? 0, now()),
          target
            .prepare("INSERT INTO tenant_moves_out (tenant_id, state) VALUES (?, 'settling') ON CONFLICT DO UPDATE SET state = 'settling'")
            .bind(tenantId),
        ]);
        // The switch and its record in one transaction, only if no rollback came first.
        const switched = saveStatement(env, m, { state: "switched" });
        const [recorded] = await env.CONTROL.batch([
          switched.statement,
          env.CONTROL.prepare(
            "UPDATE tenant_shards SET shard = ? WHERE tenant_id = ? AND EXISTS (SELECT 1 FROM tenant_moves WHERE tenant_id = ? AND state = 'switched')",
          ).bind(m.toShard, tenantId, tenantId),
        ]);
        if ((recorded!.meta.changes ?? 0) === 0) throw new MoveChanged(`the move of ${tenantId} was rolled back before its switch`);
        switched.apply();
        forgetPlacement(tenantId);
        break;
      }
      case "switched": {
        const wait = m.stateAt + ttl - now();
        if (wait > 0) return { move: m, waitMs: wait, spent: budget.spent };
        await shardBinding(env, m.toShard).prepare("DELETE FROM tenant_moves_out WHERE tenant_id = ?").bind(tenantId).run();
        await save(env, m, { state: "settled", progress: { ...m.progress, table: 0, after: null } });
        break;
      }
      case "settled": {
        const wait = m.stateAt + ttl - now();
        if (wait > 0) return { move: m, waitMs: wait, spent: budget.spent };
        const source = shardBinding(env, m.fromShard);
        await setSourceState(env, m, "cleaning");
        if (!(await deleteTenantRows(env, source, tenantId, budget, m))) return { move: m, waitMs: 0, spent: budget.spent };
        await source.batch([
          source.prepare("DELETE FROM tenant_move_log WHERE tenant_id = ?").bind(tenantId),
          source.prepare("DELETE FROM moved_event_cursors WHERE tenant_id = ?").bind(tenantId),
        ]);
        // The tombstone: a write there from an isolate that still thinks the tenant lives here is refused.
        await setSourceState(env, m, "moved");
        await save(env, m, { state: "done", finishedAt: now() });
        return { move: m, waitMs: 0, spent: budget.spent };
      }
      default:
        return { move: m, waitMs: 0, spent: budget.spent };
    }
  }
}

/**
 * Undo a move that has not switched yet: the tenant stays whole on the source. Repeating it on a
 * rolled-back move finishes an undo that was cut off (it is idempotent).
 */
export async function rollBackMove(env: Env, tenantId: string): Promise<MoveRow> {
  const m = await readMove(env, tenantId);
  if (!m || m.state === "done") throw new CoreError("not_found", `tenant ${tenantId} has no move running`);
  const tooLate = () => new CoreError("conflict", `the move of ${tenantId} has switched to ${m.toShard} already; it can only finish`);
  if (m.state !== "copying" && m.state !== "fenced" && m.state !== "rolled_back") throw tooLate();
  // Recorded before anything is undone, and only if the move has not switched meanwhile (the switch checks the same row).
  if (m.state !== "rolled_back") {
    try {
      await save(env, m, { state: "rolled_back", finishedAt: now() });
    } catch (e) {
      if (e instanceof MoveChanged) throw tooLate();
      throw e;
    }
  }
  const source = shardBinding(env, m.fromShard);
  await source.batch([
    source.prepare("DELETE FROM tenant_moves_out WHERE tenant_id = ?").bind(tenantId),
    source.prepare("DELETE FROM tenant_move_log WHERE tenant_id = ?").bind(tenantId),
  ]);
  const target = shardBinding(env, m.toShard);
  // The target's settling row (if the fence got that far) first: it would refuse the deletes.
  await target.batch([
    target.prepare("DELETE FROM moved_event_cursors WHERE tenant_id = ?").bind(tenantId),
    target.prepare("DELETE FROM tenant_moves_out WHERE tenant_id = ?").bind(tenantId),
  ]);
  await deleteTenantRows(env, target, tenantId, new Budget(Number.POSITIVE_INFINITY));
  return m;
}
