// Standard Webhooks signatures (https://www.standardwebhooks.com): the secret is whsec_ and
// base64 key bytes; each delivery is signed over "<webhook-id>.<webhook-timestamp>.<body>"
// with HMAC-SHA256, sent as webhook-signature: v1,<base64>.
import { bytesOfBase64 } from "../shared/base64";

const SECRET_PREFIX = "whsec_";

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

export function newSigningSecret(): string {
  return SECRET_PREFIX + base64(crypto.getRandomValues(new Uint8Array(32)));
}

const keyBytes = (secret: string) => bytesOfBase64(secret.slice(SECRET_PREFIX.length));

/** The three Standard Webhooks headers of one delivery attempt: one signature per secret (the current one first, then one being rotated out). */
export async function signedHeaders(
  secrets: string[],
  id: string,
  timestampSeconds: number,
  body: string,
): Promise<Record<string, string>> {
  const content = new TextEncoder().encode(`${id}.${timestampSeconds}.${body}`);
  const signatures = await Promise.all(
    secrets.map(async (secret) => {
      const key = await crypto.subtle.importKey("raw", keyBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return `v1,${base64(new Uint8Array(await crypto.subtle.sign("HMAC", key, content)))}`;
    }),
  );
  return { "webhook-id": id, "webhook-timestamp": String(timestampSeconds), "webhook-signature": signatures.join(" ") };
}
