// Mints a scoped bearer token for the dbplane APIs, signed with the services' HS256 key:
// DBPLANE_JWT_SECRET, else the key ./scripts/dev generated into .data/dev-jwt-secret.
//   ./scripts/dbplane-token --scope read --scope db:shop:query --ttl 1h --sub alice
// Prints the token only, so `export DBPLANE_TOKEN=$(./scripts/dbplane-token --scope admin)` works.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { signToken } from "@dbplane/service-kit";

const USAGE = `usage: dbplane-token --scope SCOPE [--scope SCOPE …] [--ttl 1h] [--sub NAME] [--issuer ISS] [--audience AUD]
  SCOPE: read | admin | jobs:write | db:<name>:query | db:<name>:admin
  --ttl: seconds or a span like 30m, 12h, 7d (default 1h); every token expires
  --issuer/--audience default to DBPLANE_JWT_ISSUER/DBPLANE_JWT_AUDIENCE when set`;

/** A scope dbplane knows; anything else is a typo that would only mint a useless token. */
const SCOPE = /^(read|admin|jobs:write|db:[a-z0-9][a-z0-9-]*:(query|admin))$/;
const TTL = /^\d+(s|m|h|d)?$/;

function fail(message: string): never {
  process.stderr.write(`dbplane-token: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function secret(): string {
  if (process.env.DBPLANE_JWT_SECRET) return process.env.DBPLANE_JWT_SECRET;
  const file = join(resolve(import.meta.dirname, ".."), ".data/dev-jwt-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  return fail("set DBPLANE_JWT_SECRET (or run ./scripts/dev once, which generates .data/dev-jwt-secret)");
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        scope: { type: "string", multiple: true },
        ttl: { type: "string", default: "1h" },
        sub: { type: "string", default: process.env.USER ?? "dev" },
        issuer: { type: "string" },
        audience: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    return fail((err as Error).message);
  }
})();
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const scopes = values.scope ?? [];
if (scopes.length === 0) fail("give at least one --scope");
for (const scope of scopes) if (!SCOPE.test(scope)) fail(`unknown scope "${scope}"`);
if (!TTL.test(values.ttl)) fail(`--ttl must be seconds or a span like 30m, 12h, 7d, not "${values.ttl}"`);
const ttl = /^\d+$/.test(values.ttl) ? Number(values.ttl) : values.ttl;
const issuer = values.issuer ?? process.env.DBPLANE_JWT_ISSUER;
const audience = values.audience ?? process.env.DBPLANE_JWT_AUDIENCE;

const token = await signToken(secret(), {
  sub: values.sub,
  scopes,
  expiresIn: ttl,
  ...(issuer !== undefined && { issuer }),
  ...(audience !== undefined && { audience }),
});
process.stdout.write(`${token}\n`);
