import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { CliError, UsageError } from "../cli-error.ts";
import { globalOptions, repeatable } from "../command-options.ts";
import { configPath, readConfig, writeConfig } from "../config-store.ts";
import { ExitCode } from "../exit-codes.ts";

/** A scope the services know (service-kit's scopes.ts); anything else would mint a useless token. */
const SCOPE = /^(read|admin|jobs:write|db:[a-z0-9][a-z0-9-]*:(query|admin))$/;
const TTL = /^\d+(s|m|h|d)?$/;

function scope(value: string): string {
  if (!SCOPE.test(value)) {
    throw new InvalidArgumentError(
      "not a scope: read | admin | jobs:write | db:<name>:query | db:<name>:admin",
    );
  }
  return value;
}

/** The HS256 key: --secret-file, DBPLANE_JWT_SECRET, else the one ./scripts/dev generated. */
function secretOf(file: string | undefined): string {
  if (file !== undefined) {
    try {
      return readFileSync(file, "utf8").trim();
    } catch (err) {
      throw new UsageError(`--secret-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`);
    }
  }
  if (process.env.DBPLANE_JWT_SECRET) return process.env.DBPLANE_JWT_SECRET;
  const devSecret = join(resolve(import.meta.dirname, "../../../.."), ".data/dev-jwt-secret");
  if (existsSync(devSecret)) return readFileSync(devSecret, "utf8").trim();
  throw new UsageError(
    "no signing key: give --secret-file, set DBPLANE_JWT_SECRET, or run ./scripts/dev once (it writes .data/dev-jwt-secret)",
  );
}

interface TokenOptions {
  scope?: string[];
  ttl: string;
  sub: string;
  secretFile?: string;
  save?: boolean;
}

async function mintToken(options: TokenOptions, command: Command): Promise<void> {
  const scopes = options.scope ?? [];
  if (scopes.length === 0) throw new UsageError("give at least one --scope");
  if (!TTL.test(options.ttl))
    throw new UsageError(`--ttl: "${options.ttl}" is not seconds or a span like 30m, 12h, 7d`);
  const secret = secretOf(options.secretFile);
  // Loaded here only: service-kit brings the HTTP stack, which no other command needs.
  const { signToken } = await import("@dbplane/service-kit");
  const token = await signToken(secret, {
    sub: options.sub,
    scopes,
    expiresIn: /^\d+$/.test(options.ttl) ? Number(options.ttl) : options.ttl,
    ...(process.env.DBPLANE_JWT_ISSUER && { issuer: process.env.DBPLANE_JWT_ISSUER }),
    ...(process.env.DBPLANE_JWT_AUDIENCE && { audience: process.env.DBPLANE_JWT_AUDIENCE }),
  });
  if (!options.save) {
    process.stdout.write(`${token}\n`);
    return;
  }
  const path = configPath();
  const config = await readConfig(path);
  const name = globalOptions(command).context ?? config.currentContext;
  const context = name ? config.contexts[name] : undefined;
  if (!name || !context) {
    throw new CliError(
      `--save: no context ${name ? `"${name}"` : "in use"} (dbplane login first)`,
      ExitCode.notFound,
    );
  }
  await writeConfig(path, { ...config, contexts: { ...config.contexts, [name]: { ...context, token } } });
  process.stderr.write(`token (${scopes.join(" ")}, ${options.ttl}) saved in context "${name}"\n`);
}

/** `dbplane token`: a dev token signed with the services' shared HS256 key (service-kit's signToken). */
export function registerTokenCommand(program: Command): void {
  program
    .command("token")
    .description("mint a dev bearer token with scopes, signed with the services' local secret")
    .option(
      "--scope <scope>",
      "read | admin | jobs:write | db:<name>:query | db:<name>:admin (repeatable)",
      repeatable(scope),
    )
    .option("--ttl <span>", "seconds or a span like 30m, 12h, 7d", "1h")
    .option("--sub <name>", "the token's subject", process.env.USER ?? "dev")
    .option("--secret-file <path>", "the HS256 key (default: $DBPLANE_JWT_SECRET, else .data/dev-jwt-secret)")
    .option("--save", "store it in the context instead of printing it")
    .action(mintToken);
}
