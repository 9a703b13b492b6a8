import { type Command, InvalidArgumentError } from "commander";
import type { OutputFormat } from "./output-format.ts";
import { resolveTarget, type Target } from "./target.ts";

/** The options every command has (declared on the program, accepted anywhere on the line). */
export interface GlobalOptions {
  readonly output: OutputFormat;
  readonly context?: string;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/** The context the command runs against (`--context`, `DBPLANE_CONTEXT`, the current one). */
export function targetOf(command: Command): Promise<Target> {
  return resolveTarget(globalOptions(command).context);
}

/**
 * A whole number for an option. Only the form is checked here: the limits are the API's, and
 * its problem names the field when a value is out of range.
 */
export function wholeNumber(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError("must be a whole number");
  return Number(value);
}

/** Collects a repeatable option into an array. */
export function repeatable<T>(parse: (value: string) => T) {
  return (value: string, previous: T[] | undefined): T[] => [...(previous ?? []), parse(value)];
}
