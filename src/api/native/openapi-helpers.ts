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
};
