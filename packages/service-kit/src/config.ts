import type { z } from "zod";
import { secretsIn } from "./secret-values.ts";

/** One thing wrong with the environment: which variable, and what is wrong (never its value). */
export interface ConfigIssue {
  readonly variable: string;
  readonly problem: string;
}

/** The environment does not satisfy the service's config schema; `issues` lists every problem. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "CONFIG_INVALID";
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    const lines = issues.map((issue) => `  - ${issue.variable}: ${issue.problem}`);
    const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
    super(`invalid configuration (${count}):\n${lines.join("\n")}`, options);
    this.issues = issues;
  }
}

/** Exit code for bad configuration (EX_CONFIG from sysexits.h). */
export const CONFIG_EXIT_CODE = 78;

/**
 * Parses `env` with `schema` (a zod object over variable names) and returns the typed config,
 * or throws a {@link ConfigError} naming every wrong or missing variable at once. Empty strings
 * count as unset, so a chart that renders `FOO: ""` gets the default rather than a parse error.
 */
export function parseConfig<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  const present: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value !== "") present[name] = value;
  }
  const result = schema.safeParse(present);
  if (result.success) return result.data;

  // Zod's own messages never quote the input, but a custom refinement might: scrub every
  // secret-looking value we were given from the text before it can reach a terminal or a log.
  const secrets = secretsIn(present);
  const scrub = (text: string) => secrets.reduce((out, secret) => out.replaceAll(secret, "[redacted]"), text);
  const issues = result.error.issues.map((issue): ConfigIssue => {
    const variable = issue.path.length > 0 ? issue.path.map(String).join(".") : "(environment)";
    const missing = issue.path.length === 1 && present[variable] === undefined;
    return { variable, problem: missing ? "is required but not set" : scrub(issue.message) };
  });
  throw new ConfigError(issues, { cause: result.error });
}

/** Every problem `env` has for `schema`, without throwing (none when it is valid). */
export function configIssues<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv,
): readonly ConfigIssue[] {
  try {
    parseConfig(schema, env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
}

/**
 * The one way a service reads its config: parse once at start-up; on failure print one message
 * listing every problem to stderr and exit with {@link CONFIG_EXIT_CODE} (78), so a crash-looping
 * pod says exactly what to fix.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  try {
    return parseConfig(schema, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
}

/** A service's `loadXConfig`: {@link loadConfig} with its schema, reading `process.env` unless given `env`. */
export function configLoader<S extends z.ZodObject>(schema: S): (env?: NodeJS.ProcessEnv) => z.output<S> {
  return (env = process.env) => loadConfig(schema, env);
}
