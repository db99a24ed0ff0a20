// Read-your-writes across D1's read replicas (D1's Sessions API). Every request's D1 work
// runs in one session of its tenant's shard, started from the caller's bookmark (the
// x-d1-bookmark header) or unconstrained, and the answer carries the newest bookmark the
// request saw in the same header: a client that sends it back reads at least what it wrote. A write made by a
// group's coordinator returns the coordinator's bookmark with its outcome
// (coordinator/client.ts), and the request's session moves on to it.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env";

export const BOOKMARK_HEADER = "x-d1-bookmark";

/**
 * The header carries the shard the bookmark is of, then the bookmark (`DB_2.0000002a-…`): D1
 * bookmarks are short runs of hex digits and dashes. A bookmark of another shard (the tenant has
 * moved since) starts on the primary; an untagged one (from before shards) is taken as it is;
 * anything else starts unconstrained.
 */
const BOOKMARK = /^(?:([A-Za-z0-9_]{1,64})\.)?([0-9A-Za-z-]{1,256})$/;

/** The request's database: D1's calls, made in the request's current session. */
export class RequestDatabase {
  private session: D1DatabaseSession;
  /** The bookmark the current session was started from, until a query of it returns a newer one. */
  private floor: string | null;

  constructor(
    private readonly db: D1Database,
    private readonly shard: string,
    header: string | undefined,
  ) {
    const [, of, bookmark] = (header === undefined ? null : BOOKMARK.exec(header)) ?? [];
    const ours = bookmark !== undefined && (of === undefined || of === shard);
    this.session = db.withSession(ours ? bookmark : bookmark !== undefined ? "first-primary" : "first-unconstrained");
    this.floor = ours ? bookmark! : null;
  }

  prepare(query: string) {
    return this.session.prepare(query);
  }

  batch<T = unknown>(statements: D1PreparedStatement[]) {
    return this.session.batch<T>(statements);
  }

  exec(query: string) {
    return this.db.exec(query);
  }

  withSession(constraintOrBookmark?: string) {
    return this.db.withSession(constraintOrBookmark);
  }

  dump() {
    return this.db.dump();
  }

  /** A write made elsewhere (a coordinator) reached `bookmark`: what this request reads next sees it. */
  advanceTo(bookmark: string) {
    this.session = this.db.withSession(bookmark);
    this.floor = bookmark;
  }

  /** The header's value: this shard's name and its newest bookmark the request saw. */
  bookmark(): string | null {
    const b = this.session.getBookmark() ?? this.floor;
    return b === null ? null : `${this.shard}.${b}`;
  }
}

/** The request's session, opened on its tenant's shard once the tenant is known (core/shared/context.ts scopeFor). */
export class RequestSessions {
  private opened: RequestDatabase | null = null;

  constructor(private readonly start: string | undefined) {}

  open(shard: D1Database, name: string): RequestDatabase {
    this.opened ??= new RequestDatabase(shard, name, this.start);
    return this.opened;
  }

  bookmark(): string | null {
    return this.opened?.bookmark() ?? null;
  }
}

export const readYourWrites = createMiddleware<AppEnv>(async (c, next) => {
  const sessions = new RequestSessions(c.req.header(BOOKMARK_HEADER));
  c.set("sessions", sessions);
  await next();
  const bookmark = sessions.bookmark();
  if (!bookmark) return;
  // A response made elsewhere (a replay, say) may have immutable headers.
  c.res = new Response(c.res.body, c.res);
  c.res.headers.set(BOOKMARK_HEADER, bookmark);
});
