import { type HttpApp, HttpError, problem, sendProblem } from "@dbplane/service-kit";
import { FAILURE_KINDS, type PostgresErrorInfo } from "../domain/postgres-errors.ts";
import { FenceHoldError } from "../fence/fence-errors.ts";
import { ResultTooLargeError } from "../query/result-cap.ts";
import { ShardStatementError } from "../query/shard-statement.ts";

/**
 * An HttpError with RFC 9457 extension members (`sqlstate`, `position`, `shard`…); the router's
 * error handler adds them to the problem document.
 */
export class ShardProblemError extends HttpError {
  override readonly name = "ShardProblemError";
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(
    status: number,
    code: string,
    message: string,
    extensions: Record<string, unknown>,
    cause?: unknown,
  ) {
    super(status, code, message, { cause });
    this.extensions = extensions;
  }
}

const STATUS_OF: Readonly<Record<string, number>> = {
  [FAILURE_KINDS.statement]: 400,
  [FAILURE_KINDS.timeout]: 504,
  [FAILURE_KINDS.unavailable]: 503,
};

/** The HTTP status a failure kind maps to. */
export function statusOf(info: PostgresErrorInfo): number {
  return STATUS_OF[info.kind] ?? 500;
}

/** The problem for one shard's failure: 400 statement error, 504 timeout, 503 unavailable. */
export function shardFailure(
  database: string,
  shard: number,
  info: PostgresErrorInfo,
  extra: Record<string, unknown> = {},
): ShardProblemError {
  const where = { database, shard, ...extra };
  if (info.kind === FAILURE_KINDS.statement) {
    return new ShardProblemError(400, "POSTGRES_ERROR", info.message, {
      ...where,
      sqlstate: info.sqlstate,
      ...(info.position !== undefined && { position: info.position }),
    });
  }
  if (info.kind === FAILURE_KINDS.timeout) {
    return new ShardProblemError(
      504,
      "STATEMENT_TIMEOUT",
      `shard ${shard} of database ${database}: ${info.message}`,
      {
        ...where,
        sqlstate: info.sqlstate,
      },
    );
  }
  // The driver's message can name hosts and ports: it goes to the log; the client learns which
  // shard is down, and the router's own reason when it has one (a missing password Secret).
  return new ShardProblemError(
    503,
    "SHARD_UNAVAILABLE",
    `shard ${shard} of database ${database} is unavailable${info.reason === undefined ? "" : `: ${info.reason}`}`,
    {
      ...where,
      ...(info.sqlstate !== undefined && { sqlstate: info.sqlstate }),
    },
  );
}

type ErrorHandler = Parameters<HttpApp["setErrorHandler"]>[0];

/** A failed statement as the problem it means, naming the failing statement of a transaction. */
function statementProblem(err: ShardStatementError): ShardProblemError {
  const index = (err.cause as { statementIndex?: number } | undefined)?.statementIndex;
  return shardFailure(err.database, err.shard, err.info, index === undefined ? {} : { statement: index });
}

/** 413 naming the limit, with PostgreSQL's SQLSTATE for an exceeded program limit. */
function tooLargeProblem(err: ResultTooLargeError): ShardProblemError {
  const index = (err as { statementIndex?: number }).statementIndex;
  return new ShardProblemError(
    413,
    err.code,
    err.message,
    { sqlstate: err.sqlstate, limitBytes: err.limitBytes, ...(index !== undefined && { statement: index }) },
    err,
  );
}

/** 503: the write never ran (a shard being split held it too long); safe to retry. */
function fencedProblem(err: FenceHoldError): ShardProblemError {
  return new ShardProblemError(
    503,
    err.code,
    err.message,
    { database: err.database, shards: err.shards, heldMs: Math.round(err.heldMs) },
    err,
  );
}

/**
 * Sends ShardProblemErrors (and ShardStatementErrors and ResultTooLargeErrors, as the problem
 * they mean) with their extension members; everything else to the kit's handler.
 */
export function shardProblemHandler(app: HttpApp, fallback: ErrorHandler): ErrorHandler {
  return (thrown, request, reply) => {
    const error =
      thrown instanceof ShardStatementError
        ? statementProblem(thrown)
        : thrown instanceof ResultTooLargeError
          ? tooLargeProblem(thrown)
          : thrown instanceof FenceHoldError
            ? fencedProblem(thrown)
            : thrown;
    if (!(error instanceof ShardProblemError)) return fallback.call(app, error, request, reply);
    if (error.code === "WRITE_FENCED") void reply.header("retry-after", "1");
    if (error.status >= 500)
      request.log.warn({ err: error.cause ?? error, code: error.code, ...error.extensions }, error.message);
    else request.log.info({ code: error.code, ...error.extensions }, error.message);
    return sendProblem(
      reply,
      problem(request, error.status, error.message, { code: error.code, ...error.extensions }),
    );
  };
}
