import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { CliError } from "./cli-error.ts";
import { ExitCode } from "./exit-codes.ts";
import type { ServiceName } from "./service-names.ts";

/** One place dbplane runs, like a kubectl context: where each service is and the token to use. */
export interface CliContext {
  readonly services: Partial<Record<ServiceName, string>>;
  /** The bearer token; kept only in this 0600 file, never printed. */
  readonly token?: string;
}

export interface CliConfig {
  readonly currentContext: string | null;
  readonly contexts: Readonly<Record<string, CliContext>>;
}

const EMPTY: CliConfig = { currentContext: null, contexts: {} };

/** `$XDG_CONFIG_HOME/dbplane/config.json`, else `~/.config/dbplane/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(base, "dbplane", "config.json");
}

/** The config at `path`; an absent file is an empty config. */
export async function readConfig(path: string): Promise<CliConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return EMPTY;
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, ExitCode.apiError, { cause: err });
  }
  try {
    const parsed = JSON.parse(text) as Partial<CliConfig>;
    return { currentContext: parsed.currentContext ?? null, contexts: parsed.contexts ?? {} };
  } catch (err) {
    throw new CliError(`${path} is not valid JSON: fix or remove it`, ExitCode.usage, { cause: err });
  }
}

/**
 * Writes the config readable by its owner only (it holds tokens): a 0600 file in a 0700
 * directory, replaced by rename so a crash never leaves half a file.
 */
export async function writeConfig(path: string, config: CliConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // The umask cannot widen it, but a file left by an older version could be wider: set it anyway.
  await chmod(temp, 0o600);
  await rename(temp, path);
}
