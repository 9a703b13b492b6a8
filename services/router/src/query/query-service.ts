import { NotFoundError, ValidationError } from "@dbplane/service-kit";
import { hashShardKey, InvalidShardKeyError, type ShardKeyType } from "@dbplane/sharding";
import type pg from "pg";
import { FAILURE_KINDS } from "../domain/postgres-errors.ts";
import type { LiveMap, LiveShard } from "../shards/live-map.ts";
import { type PreparedStatements, runPrepared } from "../shards/prepared-statements.ts";
import type { ServerPool } from "../shards/server-pool.ts";
import { pickReadServer, SERVER_ROLES, type ServerRole } from "../shards/server-selection.ts";
import { type ServerSession, type StatementSignal, withServerSession } from "../shards/server-session.ts";
import type { ShardMapRegistry } from "../shards/shard-map-registry.ts";
import { ResultBudget, runCapped } from "./result-cap.ts";
import {
  type LoadAccounting,
  onShard,
  readOnShard,
  ShardStatementError,
  type StatementResult,
  toResult,
} from "./shard-statement.ts";

/** A typed shard key as the API receives it. */
export interface ShardKey {
  readonly type: ShardKeyType;
  readonly value: string | number;
}

export interface Statement {
  readonly sql: string;
  readonly params?: readonly unknown[] | undefined;
}

export interface KeyedResult extends StatementResult {
  readonly version: number;
  readonly shard: number;
  readonly server: ServerRole;
}

export interface QueryServiceOptions extends LoadAccounting {
  readonly maps: ShardMapRegistry;
  readonly maxReplicaLagMs: number;
  /** Most bytes of rows one request may receive from its shards (ResultTooLargeError past it). */
  readonly maxResultBytes: number;
  /**
   * Most time one statement may wait for its server before the router cancels it and gives up on
   * the server: past statement_timeout, so a live server answers with its own timeout first.
   */
  readonly statementDeadlineMs: number;
  /**
   * Repeated statements run as server-side prepared statements (single statements outside a
   * transaction whose session needs no reset); absent, every statement is parsed each time.
   */
  readonly prepared?: PreparedStatements | undefined;
}

/** Routing and running statements: by key, on one shard, atomically, or on every shard. */
export class QueryService {
  readonly #o: QueryServiceOptions;

  constructor(options: QueryServiceOptions) {
    this.#o = options;
  }

  /** The live map of a database, or 404. Read once per request: the version stays fixed for it. */
  map(database: string): LiveMap {
    const map = this.#o.maps.get(database);
    if (!map) throw new NotFoundError(`database ${database} has no shard map (unknown database)`);
    return map;
  }

  /** The shard that owns `key` under `map`; 400 naming `field` when the key does not fit its type. */
  shardForKey(map: LiveMap, key: ShardKey, field = "body.key.value"): LiveShard {
    let hash: bigint;
    try {
      hash = hashShardKey(key.type, key.value);
    } catch (err) {
      if (!(err instanceof InvalidShardKeyError)) throw err;
      throw new ValidationError(`Invalid shard key: ${err.message}`, {
        errors: [{ field, message: err.message }],
      });
    }
    return this.shard(map, map.lookup.shardFor(hash));
  }

  shard(map: LiveMap, index: number): LiveShard {
    const shard = map.shards.get(index);
    if (!shard)
      throw new NotFoundError(`database ${map.database} has no shard ${index} in map version ${map.version}`);
    return shard;
  }

  /**
   * One statement on the shard that owns `key`. `readOnly` reads from an eligible replica, else
   * from the primary through a read-only session; a replica that fails is marked down and the
   * statement retried once on the primary. `resetSession` (checkStatements' `resetsSession`):
   * the statement may leave session state behind, so its connection is reset before reuse.
   */
  async keyed(
    map: LiveMap,
    shard: LiveShard,
    statement: Statement,
    readOnly: boolean,
    signal?: StatementSignal,
    resetSession = true,
  ): Promise<KeyedResult> {
    // A fresh budget per attempt: a retry on another server starts the result over.
    const run = (pool: pg.Pool, server: ServerPool) => () =>
      this.#session(pool, server, signal, resetSession, (session) =>
        session.runLast((client) =>
          this.#runStatement(
            client,
            statement.sql,
            statement.params as unknown[],
            new ResultBudget(this.#o.maxResultBytes),
            resetSession,
          ),
        ),
      );
    const done = (res: StatementResult, server: ServerRole): KeyedResult => ({
      ...res,
      version: map.version,
      shard: shard.index,
      server,
    });
    if (!readOnly) {
      const res = await onShard(
        this.#o,
        map.database,
        shard.index,
        shard.primary,
        run(shard.primary.pool, shard.primary),
      );
      return done(toResult(res), SERVER_ROLES.primary);
    }
    const pick = pickReadServer(shard, this.#o.maxReplicaLagMs);
    if (pick.role === SERVER_ROLES.replica) {
      try {
        return done(
          toResult(
            await readOnShard(
              this.#o,
              map.database,
              shard.index,
              pick.server,
              run(pick.server.pool, pick.server),
            ),
          ),
          pick.role,
        );
      } catch (err) {
        if (!(err instanceof ShardStatementError) || err.info.kind !== FAILURE_KINDS.unavailable) throw err;
      }
    }
    const res = await readOnShard(
      this.#o,
      map.database,
      shard.index,
      shard.primary,
      run(shard.primary.readOnlyPool, shard.primary),
    );
    return done(toResult(res), SERVER_ROLES.primary);
  }

  /**
   * Statements on one shard in one transaction: all or nothing. A failure rolls back and throws
   * ShardStatementError with the failing statement's index as `statement` on the error.
   */
  async transaction(
    map: LiveMap,
    shard: LiveShard,
    statements: readonly Statement[],
    readOnly: boolean,
    /** Runs before COMMIT; throwing rolls the transaction back (the write fence's lease check). */
    beforeCommit?: () => Promise<void>,
    signal?: StatementSignal,
    resetSession = true,
  ): Promise<StatementResult[]> {
    const pool = readOnly ? shard.primary.readOnlyPool : shard.primary.pool;
    // The session is reset (or, still inside the transaction after a failure, dropped) when it
    // goes back to the pool; a statement past its deadline drops it on the spot.
    return onShard(this.#o, map.database, shard.index, shard.primary, () =>
      this.#session(pool, shard.primary, signal, resetSession, async (session) => {
        const budget = new ResultBudget(this.#o.maxResultBytes);
        const rollback = () => session.run((client) => client.query("ROLLBACK")).catch(() => {});
        await session.run((client) => client.query(readOnly ? "BEGIN READ ONLY" : "BEGIN"));
        const results: StatementResult[] = [];
        for (const [i, s] of statements.entries()) {
          try {
            results.push(
              toResult(
                await session.run((client) => runCapped(client, s.sql, s.params as unknown[], budget)),
              ),
            );
          } catch (err) {
            await rollback();
            throw Object.assign(err as object, { statementIndex: i });
          }
        }
        if (beforeCommit) {
          try {
            await beforeCommit();
          } catch (err) {
            await rollback();
            throw Object.assign(err as object, { statementIndex: statements.length });
          }
        }
        await session.run((client) => client.query("COMMIT"));
        return results;
      }),
    );
  }

  /**
   * `statement` on every shard of the map in parallel. Without `allowWrites` each shard runs it
   * in a read-only session, so PostgreSQL itself refuses a write (SQLSTATE 25006). With `placed`
   * (a write its keys place), only those shards run, each its own part, as a write. Every shard's
   * outcome is returned; the caller decides what a partial failure means.
   */
  async scatter(
    map: LiveMap,
    statement: Statement,
    options: {
      allowWrites: boolean;
      readOnly: boolean;
      signal?: StatementSignal | undefined;
      /** As keyed's `resetSession`; true when absent. */
      resetSession?: boolean;
      placed?: ReadonlyMap<number, Statement> | undefined;
    },
  ): Promise<{ shard: number; server: ServerRole; result?: StatementResult; error?: ShardStatementError }[]> {
    const { placed } = options;
    const shards = [...map.shards.values()].filter((s) =>
      placed === undefined ? s.ranges.length > 0 : placed.has(s.index),
    );
    const allowWrites = options.allowWrites || placed !== undefined;
    // One budget for all shards: the merged answer is what the router holds.
    const budget = new ResultBudget(this.#o.maxResultBytes);
    return Promise.all(
      shards.map(async (shard) => {
        const pick = allowWrites
          ? { server: shard.primary, role: SERVER_ROLES.primary }
          : options.readOnly
            ? pickReadServer(shard, this.#o.maxReplicaLagMs)
            : { server: shard.primary, role: SERVER_ROLES.primary };
        const pool = pick.role === SERVER_ROLES.replica || !allowWrites ? readPool(pick) : pick.server.pool;
        const part = placed?.get(shard.index) ?? statement;
        try {
          const attempt = allowWrites ? onShard : readOnShard;
          // Each shard under its own deadline: a shard that hangs fails alone, so allowPartial
          // answers with the others instead of waiting for it.
          const res = await attempt(this.#o, map.database, shard.index, pick.server, () =>
            this.#session(pool, pick.server, options.signal, options.resetSession ?? true, (session) =>
              session.runLast((client) =>
                this.#runStatement(
                  client,
                  part.sql,
                  part.params as unknown[],
                  budget,
                  options.resetSession ?? true,
                ),
              ),
            ),
          );
          return { shard: shard.index, server: pick.role, result: toResult(res) };
        } catch (err) {
          if (!(err instanceof ShardStatementError)) throw err;
          return { shard: shard.index, server: pick.role, error: err };
        }
      }),
    );
  }

  /**
   * One statement, the last of its session: prepared on the server once repeated, unless its
   * session is reset after it (the reset, `DISCARD ALL`, would drop the prepared statement again).
   */
  #runStatement(
    client: pg.PoolClient,
    sql: string,
    params: unknown[] | undefined,
    budget: ResultBudget,
    resetSession: boolean,
  ): Promise<pg.QueryResult | pg.QueryResult[]> {
    const prepared = resetSession ? undefined : this.#o.prepared;
    if (prepared === undefined) return runCapped(client, sql, params, budget);
    return runPrepared(prepared, client, sql, (name) => runCapped(client, sql, params, budget, name));
  }

  /**
   * A session for caller SQL on `server` under the statement deadline and the request's signal;
   * reset before the pool has it back when `resetSession` (counted).
   */
  #session<T>(
    pool: pg.Pool,
    server: ServerPool,
    signal: StatementSignal | undefined,
    resetSession: boolean,
    work: (session: ServerSession) => Promise<T>,
  ): Promise<T> {
    return withServerSession(
      pool,
      server.address,
      {
        deadlineMs: this.#o.statementDeadlineMs,
        signal,
        callerSql: resetSession,
        onReset: this.#o.metrics.sessionReset,
      },
      work,
    );
  }
}

function readPool(pick: ReturnType<typeof pickReadServer>): pg.Pool {
  return pick.role === SERVER_ROLES.replica ? pick.server.pool : pick.server.readOnlyPool;
}
