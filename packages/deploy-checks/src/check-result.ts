/** The outcome of one check: its name and every problem found (empty when it passed). */
export interface CheckResult {
  readonly name: string;
  readonly problems: readonly string[];
}

/** A tool a check needs (kubectl, promtool, helm) is missing or could not run at all. */
export class ToolUnavailableError extends Error {
  override readonly name = "ToolUnavailableError";
  readonly code = "TOOL_UNAVAILABLE";
  readonly tool: string;

  constructor(tool: string, hint: string, options?: { cause?: unknown }) {
    super(`${tool} is not available: ${hint}`, options);
    this.tool = tool;
  }
}

/** Runs `body` and turns a thrown error into a failed result instead of aborting the run. */
export async function runCheck(
  name: string,
  body: () => Promise<readonly string[]> | readonly string[],
): Promise<CheckResult> {
  try {
    return { name, problems: await body() };
  } catch (err) {
    return { name, problems: [err instanceof Error ? err.message : String(err)] };
  }
}
