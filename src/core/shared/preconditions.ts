// A D1 batch is one transaction: a statement that fails rolls all of it back. abortIf lets
// a batch check its own preconditions in that transaction, so a writer whose checks
// usually pass can skip the read before its batch; when one fails, the batch changed
// nothing and the writer takes its careful path, which reads first and explains.
import { type SQL, sql } from "drizzle-orm";
import { messagesOf } from "./errors";

const MARK = "batch precondition failed";

/** A statement that fails, rolling its batch back, when `violated` (an SQL condition) holds. */
// SQLite has no RAISE outside triggers; json_extract with an invalid path is an error whose message carries the path.
export const abortIf = (violated: SQL) => sql`SELECT json_extract('{}', CASE WHEN ${violated} THEN ${sql.raw(`'${MARK}'`)} ELSE '$' END)`;

/**
 * How many times a write that checks in its batch what it read (ARCHITECTURE principle 7) meets a racing write
 * landing first, reads again and tries again, before it gives up, writing nothing.
 */
export const RACE_TRIES = 8;

/** The batch failed on an abortIf. */
export const isAborted = (e: unknown) => messagesOf(e).includes(MARK);
