// Versions as entity tags. Every group and user row has a version that grows with each
// change to it (a group's also with each change to its members, so it tags the member set
// too). A caller's If-Match becomes the versions its write may apply to; the check is made
// where the write is serialised (a group's coordinator, or the statement that writes a user).
import { CoreError } from "./errors";

export const etagOf = (version: number) => `W/"${version}"`;

/** Ours: W/"<version>", or W/"<version>-<digest>" for a read whose body holds more than the row (http/conditional.ts). */
const TAG = /^(?:W\/)?"(\d{1,15})(?:-[0-9a-f]{1,64})?"$/;

/**
 * The versions an If-Match (or If-None-Match) header names: undefined when it names any
 * (absent, or "*"). A tag that is not one of ours names no version, so it never matches.
 */
export function versionsOf(header: string | undefined): number[] | undefined {
  if (header === undefined || header.trim() === "*") return undefined;
  return header.split(",").flatMap((tag) => {
    const m = TAG.exec(tag.trim());
    return m ? [Number(m[1])] : [];
  });
}

/** The 412 of a write whose If-Match named another version than `version`, the current one. */
export const staleVersion = (what: string, version: number) =>
  new CoreError("precondition_failed", `${what} is at ${etagOf(version)}, not the version If-Match names; nothing was changed`, [
    { field: "If-Match", message: `the current entity tag is ${etagOf(version)}`, etag: etagOf(version) },
  ]);

/** 412 unless the resource is at one of the versions the caller expects (none expected: any will do). */
export function checkVersion(expect: readonly number[] | undefined, version: number, what: string) {
  if (expect !== undefined && !expect.includes(version)) throw staleVersion(what, version);
}

/** The current tag a 412 carries, for the surface to send as ETag. */
export const currentTagOf = (e: CoreError) =>
  e.kind === "precondition_failed" && typeof e.details[0]?.etag === "string" ? e.details[0].etag : undefined;
