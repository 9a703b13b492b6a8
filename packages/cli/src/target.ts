import { CliError } from "./cli-error.ts";
import { type CliContext, configPath, readConfig } from "./config-store.ts";
import { ExitCode } from "./exit-codes.ts";
import { urlsOnHost } from "./service-names.ts";

/** What a command talks to: the context's services and the token in force. */
export interface Target {
  /** The context's name; `null` when no context exists and the local dev stack is assumed. */
  readonly context: string | null;
  readonly services: CliContext["services"];
  readonly token: string | undefined;
}

/**
 * The context named by `--context`, else `DBPLANE_CONTEXT`, else the current one; with none at
 * all, the local dev stack (127.0.0.1, ports 7101–7106). `DBPLANE_TOKEN` overrides its token.
 */
export async function resolveTarget(
  contextOption: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Target> {
  const config = await readConfig(configPath(env));
  const name = contextOption ?? env.DBPLANE_CONTEXT ?? config.currentContext;
  const token = env.DBPLANE_TOKEN || undefined;
  if (name === null || name === undefined) {
    return { context: null, services: urlsOnHost("127.0.0.1"), token };
  }
  const context = config.contexts[name];
  if (!context) {
    throw new CliError(`no context "${name}" (see: dbplane context list)`, ExitCode.notFound);
  }
  return { context: name, services: context.services, token: token ?? context.token };
}
