import { Command, Option } from "commander";
import { registerCollectorsCommand } from "./commands/collectors-command.ts";
import { registerCompletionCommand } from "./commands/completion-command.ts";
import { registerContextCommand } from "./commands/context-command.ts";
import { registerDbCommand } from "./commands/db-command.ts";
import { registerDiscoveryCommand } from "./commands/discovery-command.ts";
import { registerEventsCommand } from "./commands/events-command.ts";
import { registerJobsCommand } from "./commands/jobs-command.ts";
import { registerLoginCommand } from "./commands/login-command.ts";
import { registerMigrateCommand } from "./commands/migrate-command.ts";
import { registerProjectionsCommand } from "./commands/projections-command.ts";
import { registerQueryCommand } from "./commands/query-command.ts";
import { registerStatusCommand } from "./commands/status-command.ts";
import { registerTokenCommand } from "./commands/token-command.ts";
import { OUTPUT_FORMATS } from "./output-format.ts";

/** Commander's messages as one line each: `dbplane: unknown option '--x' (Did you mean --y?)`. */
function oneLine(text: string): string {
  return `dbplane: ${text
    .replace(/^error: /, "")
    .trim()
    .replace(/\s*\n\s*/g, " ")}\n`;
}

/**
 * The `dbplane` command tree. Built on commander: settings made here (errors thrown rather than
 * exiting, one-line error output) are inherited by every subcommand added after them.
 */
export function buildProgram(version: string): Command {
  const program = new Command("dbplane")
    .description("dbplane: PostgreSQL fleets from the terminal, over the services' public HTTP APIs")
    .version(version)
    .addOption(new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("table"))
    .option("--context <name>", "the saved context to use (default: $DBPLANE_CONTEXT, else the current one)")
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ outputError: (text, write) => write(oneLine(text)) });
  registerLoginCommand(program);
  registerContextCommand(program);
  registerTokenCommand(program);
  registerDbCommand(program);
  registerQueryCommand(program);
  registerMigrateCommand(program);
  registerJobsCommand(program);
  registerProjectionsCommand(program);
  registerCollectorsCommand(program);
  registerDiscoveryCommand(program);
  registerEventsCommand(program);
  registerStatusCommand(program);
  // Last: the script is generated from every command registered before it.
  registerCompletionCommand(program);
  return program;
}
