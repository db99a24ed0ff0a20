// npm run -s token -- --tenant acme --sub alice --scope "groups:read groups:write" [--roles r1,r2] [--ttl 3600]
// npm run -s token -- --vendor [--sub ops] [--scope admin] [--ttl 3600]
// Prints one HS256 JWT signed with the local AUTH_DEV_SECRET (.dev.vars), or with
// --vendor a vendor token signed with VENDOR_DEV_SECRET; for local runs only.
import { parseArgs } from "node:util";
import { sign } from "hono/jwt";
import { ensureDevVars } from "./dev-vars.mjs";

const { values } = parseArgs({
  options: {
    tenant: { type: "string" },
    sub: { type: "string", default: "dev-user" },
    scope: { type: "string", default: "groups:read groups:write" },
    roles: { type: "string", default: "" },
    ttl: { type: "string", default: "3600" },
    vendor: { type: "boolean", default: false },
  },
});
if (!values.tenant && !values.vendor) {
  console.error('usage: npm run -s token -- --tenant ID [--sub ID] [--scope "a b"] [--roles r1,r2] [--ttl SECONDS]');
  console.error('       npm run -s token -- --vendor [--sub ID] [--scope "a b"] [--ttl SECONDS]');
  process.exit(2);
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) {
  console.error("--ttl must be a whole number of seconds");
  process.exit(2);
}
const vars = ensureDevVars();
const now = Math.floor(Date.now() / 1000);
if (values.vendor) {
  const { VENDOR_DEV_SECRET: secret, VENDOR_ISSUER: iss, VENDOR_AUDIENCE: aud } = vars;
  if (!secret || !iss || !aud) {
    console.error("vendor tokens are off: set VENDOR_DEV_SECRET, VENDOR_ISSUER and VENDOR_AUDIENCE in .dev.vars (see .dev.vars.example)");
    process.exit(1);
  }
  process.stdout.write(`${await sign({ iss, aud, sub: values.sub, scope: values.scope, iat: now, exp: now + ttl }, secret, "HS256")}\n`);
  process.exit(0);
}
const secret = vars.AUTH_DEV_SECRET;
if (!secret) {
  console.error("AUTH_DEV_SECRET is not set in .dev.vars");
  process.exit(1);
}
const token = await sign(
  {
    tenant_id: values.tenant,
    sub: values.sub,
    scope: values.scope,
    roles: values.roles
      .split(",")
      .map((r) => r.trim())
      .filter(Boolean),
    iat: now,
    exp: now + ttl,
  },
  secret,
  "HS256",
);
process.stdout.write(`${token}\n`);
