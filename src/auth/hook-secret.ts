// Identity-provider hooks authenticate with a shared secret per tenant
// (HOOK_SECRETS: {"tenant": "secret"}), compared in constant time.
import type { Env } from "../env";
import { CoreError } from "../core/errors";

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}

/** The tenant whose hook secret this is; every configured secret is compared, so timing says nothing. */
export async function tenantOfHookSecret(env: Env, presented: string | undefined): Promise<string> {
  let secrets: Record<string, string> = {};
  try {
    secrets = env.HOOK_SECRETS ? (JSON.parse(env.HOOK_SECRETS) as Record<string, string>) : {};
  } catch {
    throw new CoreError("unauthorized", "hook secrets are misconfigured (HOOK_SECRETS is not JSON)");
  }
  const entries = Object.entries(secrets).filter(([, s]) => typeof s === "string" && s.length >= 16);
  if (entries.length === 0) throw new CoreError("unauthorized", "hooks are not configured: set HOOK_SECRETS");
  if (!presented) throw new CoreError("unauthorized", "missing hook secret");
  const given = await digest(presented);
  let match: string | undefined;
  for (const [tenant, secret] of entries) {
    if (crypto.subtle.timingSafeEqual(given, await digest(secret))) match ??= tenant;
  }
  if (!match) throw new CoreError("unauthorized", "hook secret does not match");
  return match;
}
