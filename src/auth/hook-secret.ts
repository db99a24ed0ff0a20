// Identity-provider hooks authenticate with a secret that picks the tenant: an API key of
// the tenant with scope `hooks` (made through POST /v1/api-keys), or a deployment secret
// (HOOK_SECRETS: {"tenant": "secret"}, compared in constant time).

import { looksLikeApiKey } from "../core/keys";
import { CoreError } from "../core/shared/errors";
import { assertScope, SCOPES } from "../core/shared/scopes";
import type { Env } from "../env";
import { verifyApiKey } from "./api-key";

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}

function deploymentSecrets(env: Env): [string, string][] {
  let secrets: Record<string, string> = {};
  try {
    secrets = env.HOOK_SECRETS ? (JSON.parse(env.HOOK_SECRETS) as Record<string, string>) : {};
  } catch {
    throw new CoreError("unauthorized", "hook secrets are misconfigured (HOOK_SECRETS is not JSON)");
  }
  return Object.entries(secrets).filter(([, s]) => typeof s === "string" && s.length >= 16);
}

/** The tenant whose hook secret this is; every configured secret is compared, so timing says nothing. */
export async function tenantOfHookSecret(env: Env, header: string | undefined, background: (p: Promise<unknown>) => void): Promise<string> {
  // Okta sends the configured value as it is; people also configure "Bearer <key>".
  const presented = header?.replace(/^Bearer\s+/i, "").trim();
  if (presented && looksLikeApiKey(presented)) {
    const principal = await verifyApiKey(env, presented, background);
    assertScope(principal, [SCOPES.hooks]);
    return principal.tenantId;
  }
  const entries = deploymentSecrets(env);
  if (!presented) throw new CoreError("unauthorized", "missing hook secret (Authorization header)");
  if (entries.length === 0)
    throw new CoreError("unauthorized", "hook secrets are not configured (HOOK_SECRETS); use an API key with scope hooks");
  const given = await digest(presented);
  let match: string | undefined;
  for (const [tenant, secret] of entries) {
    if (crypto.subtle.timingSafeEqual(given, await digest(secret))) match ??= tenant;
  }
  if (!match) throw new CoreError("unauthorized", "hook secret does not match");
  return match;
}
