import { requireScope } from "../../auth/middleware";
import { SCOPES } from "../../core/shared/scopes";
import { errorBody } from "./schemas";

// Small builders for the native routes' OpenAPI descriptions.
export const read = requireScope(SCOPES.read);
export const write = requireScope(SCOPES.write);
export const json = <T>(schema: T) => ({ content: { "application/json": { schema } }, required: true as const });
export const ok = <T>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
export const errors = {
  400: ok(errorBody, "Invalid input"),
  401: ok(errorBody, "Missing or invalid token"),
  403: ok(errorBody, "Missing scope"),
  404: ok(errorBody, "Unknown group or user (also another tenant's)"),
  429: ok(errorBody, "The tenant's (or the API key's) requests for this minute are spent: see Retry-After"),
  503: ok(
    errorBody,
    "Nothing was written: the tenant is moving to another database (retry after Retry-After), or the change kept meeting racing changes of its users (send it again)",
  ),
};
/** Routes that read a JSON body: what its size and its Content-Type can be refused with, besides the usual. */
export const bodyErrors = {
  ...errors,
  413: ok(errorBody, "The body is larger than the surface allows"),
  415: ok(errorBody, "The body was sent with a Content-Type other than application/json; nothing was changed"),
};
/** Writes that take If-Match (a version from the resource's ETag). */
export const conditionalWrite = {
  412: ok(errorBody, "If-Match names another version than the current one (sent as ETag); nothing was changed"),
};
/** Reads that send ETag and take If-None-Match. */
export const conditionalRead = { 304: { description: "Not modified: If-None-Match names the current version" } };
