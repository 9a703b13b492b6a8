#!/usr/bin/env node
// The `dbplane` executable: runs the command line and turns every failure into one line on
// stderr and an exit code scripts can rely on (exit-codes.ts).
import { readFileSync } from "node:fs";
import { CommanderError } from "commander";
import { CliError } from "./cli-error.ts";
import { ExitCode } from "./exit-codes.ts";
import { buildProgram } from "./program.ts";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and --version end in a CommanderError too, with exit code 0; commander printed the message.
    return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (err instanceof CliError) {
    process.stderr.write(`dbplane: ${err.message}\n`);
    return err.exitCode;
  }
  process.stderr.write(`dbplane: unexpected error: ${(err as Error).message ?? String(err)}\n`);
  return ExitCode.apiError;
}

try {
  await buildProgram(version).parseAsync(process.argv);
} catch (err) {
  process.exitCode = exitCodeOf(err);
}
