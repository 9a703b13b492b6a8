/**
 * What `dbplane` exits with, so that scripts can branch on it. Documented in the package README;
 * a change here is a breaking change for every script that uses the CLI.
 */
export const ExitCode = {
  ok: 0,
  /** The API answered an error (4xx other than below, 5xx) or could not be reached. */
  apiError: 1,
  /** The command line itself is wrong: unknown flag or command, bad value, missing argument. */
  usage: 2,
  /** The thing named does not exist (HTTP 404, an unknown context). */
  notFound: 3,
  /** No valid token (HTTP 401) or the token lacks the scope (HTTP 403). */
  unauthorized: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code of an HTTP error status. */
export function exitCodeOfStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return ExitCode.unauthorized;
  if (status === 404) return ExitCode.notFound;
  return ExitCode.apiError;
}
