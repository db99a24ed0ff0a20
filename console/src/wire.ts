// The shapes the pages read, taken from the types generated from /openapi.json
// (npm run openapi): a change to the API that breaks a page breaks the console's build.
import type { components } from "./api-types";

type Schemas = components["schemas"];
export type Member = Schemas["Member"];
export type StillMember = Schemas["StillMember"];
export type Role = Schemas["Role"];
export type EffectiveRole = Schemas["EffectiveRole"];
export type GroupRef = Pick<Schemas["Group"], "group_id" | "name">;
export type HeldGroup = Schemas["TransitiveUserGroup"];
export type User = Schemas["User"];
export type ApiKey = Schemas["ApiKey"];
export type Webhook = Schemas["Webhook"];
export type WebhookDelivery = Schemas["WebhookDelivery"];
