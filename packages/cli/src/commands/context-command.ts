import type { Command } from "commander";
import { CliError } from "../cli-error.ts";
import { globalOptions } from "../command-options.ts";
import { configPath, readConfig, writeConfig } from "../config-store.ts";
import { ExitCode } from "../exit-codes.ts";
import { printResult } from "../output-format.ts";

/** `dbplane context list|use`: the saved contexts, as kubectl's `config get-contexts|use-context`. */
export function registerContextCommand(program: Command): void {
  const context = program.command("context").description("list the saved contexts or switch between them");

  context
    .command("list")
    .description("the saved contexts (tokens are never shown, only whether one is set)")
    .action(async (_options, command: Command) => {
      const config = await readConfig(configPath());
      const items = Object.entries(config.contexts).map(([name, c]) => ({
        name,
        current: name === config.currentContext,
        token: c.token !== undefined,
        services: c.services,
      }));
      printResult(globalOptions(command).output, { currentContext: config.currentContext, items }, () => ({
        columns: ["CURRENT", "NAME", "TOKEN", "PROVISIONER", "ROUTER", "SCHEDULER"],
        rows: items.map((c) => [
          c.current ? "*" : "",
          c.name,
          c.token ? "set" : "none",
          c.services.provisioner,
          c.services.router,
          c.services.scheduler,
        ]),
      }));
    });

  context
    .command("use")
    .description("make a saved context the current one")
    .argument("<name>", "context name")
    .action(async (name: string, _options, command: Command) => {
      const path = configPath();
      const config = await readConfig(path);
      if (!config.contexts[name]) {
        throw new CliError(`no context "${name}" (see: dbplane context list)`, ExitCode.notFound);
      }
      await writeConfig(path, { ...config, currentContext: name });
      printResult(globalOptions(command).output, { currentContext: name }, () => `using context "${name}"`);
    });
}
