import type pg from "pg";
import { classifyPostgresError, FAILURE_KINDS, type PostgresErrorInfo } from "../domain/postgres-errors.ts";
import { FenceHoldError } from "../fence/fence-errors.ts";
import type { LoadWindow } from "../load/load-window.ts";
import type { RouterMetrics } from "../router-metrics.ts";
import type { ServerPool } from "../shards/server-pool.ts";
import { ResultTooLargeError } from "./result-cap.ts";

/** What one statement returned. */
export interface StatementResult {
  readonly command: string;
  readonly rowCount: number | null;
  readonly rows: Record<string, unknown>[];
}

/**
 * A statement failed on a shard; `info` says whether the statement or the shard is to blame. The
 * router's error handler answers it as a problem with the shard's details (see shard-errors.ts).
 */
export class ShardStatementError extends Error {
  override readonly name = "ShardStatementError";
  readonly code = "SHARD_STATEMENT_FAILED";
  readonly database: string;
  readonly shard: number;
  readonly info: PostgresErrorInfo;

  constructor(database: string, shard: number, info: PostgresErrorInfo, cause: unknown) {
    super(info.message, { cause });
    this.database = database;
    this.shard = shard;
    this.info = info;
  }
}

/** Counting of every statement: local Prometheus series and the cross-replica window. */
export interface LoadAccounting {
  readonly load: LoadWindow;
  readonly metrics: RouterMetrics;
}

/** `pg` returns an array for a multi-statement simple query; the last result is the answer. */
export function toResult(res: pg.QueryResult | pg.QueryResult[]): StatementResult {
  const last = Array.isArray(res) ? res[res.length - 1] : res;
  return { command: last?.command ?? "", rowCount: last?.rowCount ?? null, rows: last?.rows ?? [] };
}

/** Marks the server by what the outcome says about it (a statement error says it is up). */
function noteHealth(server: ServerPool, info: PostgresErrorInfo | undefined): void {
  if (info?.kind === FAILURE_KINDS.unavailable) server.markDown(info.message);
  else if (server.health.status !== "up") server.markUp(server.health.lagMs);
}

/**
 * A pooled connection that the server closed under us (a restart, pg_terminate_backend, a
 * failover): the server may be fine and a fresh connection may work.
 */
export function isLostConnection(info: PostgresErrorInfo): boolean {
  return (
    info.sqlstate === "57P01" || info.sqlstate === "57P02" || /Connection terminated/i.test(info.message)
  );
}

/**
 * `onShard` for read-only `work`: once more on a fresh connection if the first attempt's
 * connection was lost (`connectionLost`: no connection opened before the loss is used again).
 * Only for reads: a write whose connection died may have committed.
 */
export async function readOnShard<T>(...statement: Parameters<typeof onShard<T>>): Promise<T> {
  try {
    return await onShard(...statement);
  } catch (err) {
    if (!(err instanceof ShardStatementError) || !isLostConnection(err.info)) throw err;
    return onShard(...statement);
  }
}

/**
 * Runs `work` against one shard server with accounting: latency and outcome per shard, health
 * updated from the outcome, pg errors turned into ShardStatementError. Statement errors count
 * as errors of the shard too (the error rate is what callers experience).
 */
export async function onShard<T>(
  accounting: LoadAccounting,
  database: string,
  shard: number,
  server: ServerPool,
  work: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  let info: PostgresErrorInfo | undefined;
  try {
    if (server.unusable !== undefined) {
      const unusable = {
        kind: FAILURE_KINDS.unavailable,
        message: server.unusable,
        sqlstate: undefined,
        position: undefined,
        reason: server.unusable,
      };
      throw new ShardStatementError(database, shard, unusable, undefined);
    }
    return await work();
  } catch (err) {
    if (err instanceof ShardStatementError) {
      info = err.info;
      throw err;
    }
    // The shard answered; the router refused to hold the answer (or to commit: the write fence).
    if (err instanceof ResultTooLargeError || err instanceof FenceHoldError) throw err;
    info = classifyPostgresError(err);
    throw new ShardStatementError(database, shard, info, err);
  } finally {
    const ms = performance.now() - started;
    if (info !== undefined && isLostConnection(info)) server.connectionLost();
    if (server.unusable === undefined) noteHealth(server, info);
    accounting.load.record(database, shard, info === undefined, ms);
    accounting.metrics.series(database, shard).observe(info === undefined, ms / 1000);
  }
}
