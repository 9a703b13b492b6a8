import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { UsageError } from "../cli-error.ts";
import { globalOptions } from "../command-options.ts";
import { type CliContext, configPath, readConfig, writeConfig } from "../config-store.ts";
import { printResult } from "../output-format.ts";
import { SERVICE_NAMES, type ServiceName, urlsOnHost } from "../service-names.ts";

/** `projection-coordinator` → the commander key of `--projection-coordinator-url`. */
const urlOptionKey = (service: ServiceName) =>
  `${service.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}Url`;

function checkedUrl(flag: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag}: "${value}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`${flag}: "${value}" is not an http(s) URL`);
  }
  return url.toString().replace(/\/$/, "");
}

async function tokenFrom(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return process.env.DBPLANE_TOKEN || undefined;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new UsageError(`--token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const token = text.trim();
  if (token === "" || /\s/.test(token)) throw new UsageError(`--token-file: ${file} holds no single token`);
  return token;
}

type LoginOptions = Record<string, string | undefined> & {
  host?: string;
  scheme: string;
  tokenFile?: string;
};

async function login(name: string, options: LoginOptions, command: Command): Promise<void> {
  const path = configPath();
  const config = await readConfig(path);
  const existing = config.contexts[name];
  if (options.scheme !== "http" && options.scheme !== "https") {
    throw new UsageError(`--scheme: "${options.scheme}" is neither http nor https`);
  }
  const services: Partial<Record<ServiceName, string>> = {
    ...existing?.services,
    ...(options.host !== undefined && urlsOnHost(options.host, options.scheme)),
  };
  for (const service of SERVICE_NAMES) {
    const value = options[urlOptionKey(service)];
    if (value !== undefined) services[service] = checkedUrl(`--${service}-url`, value);
  }
  if (Object.keys(services).length === 0) {
    throw new UsageError(`context "${name}" is new: give --host HOST or --<service>-url URL`);
  }
  const token = (await tokenFrom(options.tokenFile)) ?? existing?.token;
  const context: CliContext = { services, ...(token !== undefined && { token }) };
  await writeConfig(path, { currentContext: name, contexts: { ...config.contexts, [name]: context } });
  const result = { context: name, current: true, token: token !== undefined, services, config: path };
  printResult(
    globalOptions(command).output,
    result,
    () => `context "${name}" saved in ${path} and in use (${token ? "with a token" : "no token"})`,
  );
}

/** `dbplane login [name]`: saves (or updates) a context and makes it the current one. */
export function registerLoginCommand(program: Command): void {
  const command = program
    .command("login")
    .description("save where the services are and the token to use, as a context, and use it")
    .argument("[name]", "context name", "default")
    .option("--host <host>", "every service on this host at the local-dev ports 7101–7106")
    .option("--scheme <scheme>", "with --host: http or https", "http")
    .option("--token-file <path>", "read the bearer token from this file (default: $DBPLANE_TOKEN)");
  for (const service of SERVICE_NAMES) {
    command.option(`--${service}-url <url>`, `the ${service}'s base URL`);
  }
  command.action(login);
}
