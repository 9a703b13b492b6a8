/** How a failure of a statement on a shard reaches the client. */
export const FAILURE_KINDS = {
  /** The statement is wrong (syntax, constraint, type…): 400 with PostgreSQL's code. */
  statement: "statement",
  /** The statement ran out of time (statement_timeout): 504. */
  timeout: "timeout",
  /** The shard cannot be reached or refuses work: 503 naming the shard. */
  unavailable: "unavailable",
} as const;
export type FailureKind = (typeof FAILURE_KINDS)[keyof typeof FAILURE_KINDS];

/** The fields of a pg DatabaseError the API passes on. */
export interface PostgresErrorInfo {
  readonly kind: FailureKind;
  readonly message: string;
  readonly sqlstate: string | undefined;
  /** 1-based character position in the statement, when PostgreSQL reports one. */
  readonly position: number | undefined;
  /** The router's own explanation (e.g. a Secret that does not exist), safe to show clients: it names no host. */
  readonly reason?: string;
}

/**
 * SQLSTATEs that say "the server, not the statement": connection exceptions (08), operator
 * intervention except a query cancel (57P01–57P05), insufficient resources (53), a database that
 * does not exist (3D000 — a dropped or renamed shard) and authentication failures (28).
 */
function isServerSide(sqlstate: string): boolean {
  return (
    sqlstate.startsWith("08") ||
    sqlstate.startsWith("53") ||
    sqlstate.startsWith("28") ||
    sqlstate === "3D000" ||
    (sqlstate.startsWith("57P") && sqlstate !== "57014")
  );
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** Classifies an error thrown by `pg` for one shard. */
export function classifyPostgresError(err: unknown): PostgresErrorInfo {
  const e = err as { code?: unknown; message?: unknown; position?: unknown };
  const message = typeof e?.message === "string" ? e.message : String(err);
  const sqlstate = typeof e?.code === "string" && SQLSTATE.test(e.code) ? e.code : undefined;
  const position = typeof e?.position === "string" && e.position !== "" ? Number(e.position) : undefined;
  if (sqlstate === undefined) {
    // No SQLSTATE: a socket error (ECONNREFUSED, ECONNRESET), a connect or pool timeout, or a
    // connection closed under the query — all mean the shard is not answering.
    return { kind: FAILURE_KINDS.unavailable, message, sqlstate: undefined, position: undefined };
  }
  if (sqlstate === "57014") return { kind: FAILURE_KINDS.timeout, message, sqlstate, position };
  if (isServerSide(sqlstate)) return { kind: FAILURE_KINDS.unavailable, message, sqlstate, position };
  return { kind: FAILURE_KINDS.statement, message, sqlstate, position };
}
