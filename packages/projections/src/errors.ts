/** The unit's fencing token moved on: another replica owns it now; this one must not commit. */
export class FencedError extends Error {
  override readonly name = "FencedError";
  readonly code = "FENCED";
}

/** A projection handler threw; counts toward parking the event. */
export class HandlerError extends Error {
  override readonly name = "HandlerError";
  readonly code = "HANDLER_FAILED";
}

/** PostgreSQL connection-class errors (08xxx, 57Pxx) and socket errors: never the event's fault. */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  return code.startsWith("08") || code.startsWith("57P") || code.startsWith("E");
}
