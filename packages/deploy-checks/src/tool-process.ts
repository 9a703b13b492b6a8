import { spawnSync } from "node:child_process";
import { ToolUnavailableError } from "./check-result.ts";

export interface ToolOutput {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs an external tool synchronously (these checks are short and sequential). A tool that
 * cannot be started at all throws {@link ToolUnavailableError} naming the install hint, so a
 * missing binary is never mistaken for a passing or failing check.
 */
export function runTool(
  command: string,
  args: readonly string[],
  options: { cwd?: string; input?: string; installHint: string },
): ToolOutput {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    input: options.input,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new ToolUnavailableError(command, options.installHint, { cause: result.error });
  return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}

/** First line(s) of a tool's complaint, for a one-line problem message. */
export function toolMessage(output: ToolOutput): string {
  return (output.stderr.trim() || output.stdout.trim()).split("\n").slice(0, 40).join("\n");
}
