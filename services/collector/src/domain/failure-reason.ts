/** Longest reason we put in an event or the API: enough for a driver message, no stack dumps. */
const MAX_REASON = 500;

const BY_CODE: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by the server",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  "28P01": "password authentication failed",
  "28000": "authentication rejected",
  "3D000": "database does not exist",
  "57014": "statement timed out",
  "57P01": "server is shutting down",
  "57P03": "server is starting up or shutting down",
  ER_ACCESS_DENIED_ERROR: "access denied (wrong user or password)",
  ER_BAD_DB_ERROR: "database does not exist",
  PROTOCOL_SEQUENCE_TIMEOUT: "statement timed out",
};

/**
 * A reason for people from a collection failure: a plain phrase for well-known error codes plus
 * the driver's message, with every secret we know of (the target's password) scrubbed out, so
 * it can go into events, logs and the API.
 */
export function failureReason(err: unknown, where: string, secrets: readonly string[] = []): string {
  const error = err as { code?: unknown; message?: unknown; errors?: unknown };
  const code = typeof error?.code === "string" ? error.code : undefined;
  // Node's AggregateError (IPv4 and IPv6 both refused) has an empty message; its parts do not.
  const inner = Array.isArray(error?.errors)
    ? (error.errors[0] as { code?: unknown; message?: unknown })
    : undefined;
  const innerCode = typeof inner?.code === "string" ? inner.code : undefined;
  const phrase = (code && BY_CODE[code]) ?? (innerCode && BY_CODE[innerCode]);
  const message = String(error?.message || inner?.message || err || "unknown error");
  const text = phrase && !message.toLowerCase().includes(phrase) ? `${phrase}: ${message}` : message;
  const scrubbed = secrets
    .filter((s) => s.length >= 3)
    .reduce((out, secret) => out.replaceAll(secret, "***"), `${where}: ${text}`);
  return scrubbed.length > MAX_REASON ? `${scrubbed.slice(0, MAX_REASON - 1)}…` : scrubbed;
}

/** A whole collection (connect and queries) took longer than the collection timeout. */
export class CollectionTimeoutError extends Error {
  override readonly name = "CollectionTimeoutError";
  readonly code = "COLLECTION_TIMEOUT";
}
