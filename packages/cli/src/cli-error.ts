import { ExitCode, exitCodeOfStatus } from "./exit-codes.ts";

/** An error the CLI reports as one line on stderr and exits with `exitCode`. */
export class CliError extends Error {
  override readonly name: string = "CliError";
  readonly exitCode: ExitCode;

  constructor(message: string, exitCode: ExitCode, options: { cause?: unknown } = {}) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** The command line is wrong (exit 2). */
export class UsageError extends CliError {
  override readonly name = "UsageError";
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

/** An RFC 9457 problem document as the services send it (`errors` names the fields). */
export interface ProblemBody {
  readonly title?: string;
  readonly status?: number;
  readonly detail?: string;
  readonly code?: string;
  readonly errors?: readonly { readonly field: string; readonly message: string }[];
}

/** A service answered with an error status; the message is the problem on one line. */
export class ApiError extends CliError {
  override readonly name = "ApiError";
  readonly status: number;
  readonly problem: ProblemBody | undefined;

  constructor(service: string, status: number, problem: ProblemBody | undefined, fallback: string) {
    super(problemLine(service, status, problem, fallback), exitCodeOfStatus(status));
    this.status = status;
    this.problem = problem;
  }
}

/**
 * `provisioner: 400 Bad Request: body validation failed (body.shards: Too big: expected <=64)`:
 * the service, the status, the detail and every field named — one line, whatever the server sent.
 */
export function problemLine(
  service: string,
  status: number,
  problem: ProblemBody | undefined,
  fallback: string,
): string {
  const title = problem?.title ?? "";
  const detail = problem?.detail ?? fallback;
  const fields = (problem?.errors ?? []).map((e) => `${e.field}: ${e.message}`).join("; ");
  const line = `${service}: ${status}${title ? ` ${title}` : ""}: ${detail}${fields ? ` (${fields})` : ""}`;
  return line.replace(/\s*\n\s*/g, " ");
}
