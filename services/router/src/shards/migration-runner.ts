import type { Logger } from "@dbplane/service-kit";
import type pg from "pg";
import { classifyPostgresError } from "../domain/postgres-errors.ts";
import type { MigrationRecord, RouterStore } from "../store/router-store.ts";
import type { LiveMap, LiveShard } from "./live-map.ts";
import { withServerSession } from "./server-session.ts";

/** The outcome of one migration on one shard. */
export interface ShardMigrationOutcome {
  readonly shard: number;
  readonly status: "applied" | "already-applied" | "failed";
  readonly error?: {
    readonly message: string;
    readonly sqlstate?: string | undefined;
    readonly position?: number | undefined;
  };
}

/** The table on every shard that records which migrations it has, by id. */
export const SHARD_MIGRATIONS_TABLE = "dbplane_migrations";

// A fixed advisory lock key: routers (and their replicas) applying migrations to the same shard
// take turns, so a migration runs once even when two replicas see a new shard together.
const LOCK_KEY = "4820311970283";

/**
 * Applies migrations to shards: each in its own transaction on the shard's primary, which also
 * records the id in `dbplane_migrations` — the DDL and its record commit together or not at all,
 * so a retry after any failure is safe. (Statements that cannot run in a transaction, such as
 * CREATE INDEX CONCURRENTLY, are therefore not supported.)
 */
export class MigrationRunner {
  readonly #store: RouterStore;
  readonly #logger: Logger;
  readonly #deadlineMs: number;

  /** `deadlineMs`: most time one statement may wait for its shard (see QueryServiceOptions). */
  constructor(store: RouterStore, logger: Logger, deadlineMs: number) {
    this.#store = store;
    this.#logger = logger;
    this.#deadlineMs = deadlineMs;
  }

  async applyOne(
    shard: LiveShard,
    migration: Pick<MigrationRecord, "id" | "statements">,
  ): Promise<ShardMigrationOutcome> {
    try {
      if (shard.primary.unusable !== undefined) throw new Error(shard.primary.unusable);
      // Caller DDL: one statement per string (the extended protocol refuses more, so none can
      // COMMIT its way out of the transaction), and the session reset before it is pooled again.
      const limits = { deadlineMs: this.#deadlineMs, callerSql: true };
      return await withServerSession(shard.primary.pool, shard.primary.address, limits, async (session) => {
        const query = (text: string, values?: unknown[]) =>
          session.run((client) => client.query({ text, values, queryMode: "extended" } as pg.QueryConfig));
        try {
          await query("BEGIN");
          await query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
          await query(
            `CREATE TABLE IF NOT EXISTS ${SHARD_MIGRATIONS_TABLE} (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
          );
          const seen = await query(`SELECT 1 FROM ${SHARD_MIGRATIONS_TABLE} WHERE id = $1`, [migration.id]);
          if (seen.rowCount === 1) {
            await query("COMMIT");
            return { shard: shard.index, status: "already-applied" as const };
          }
          for (const sql of migration.statements) await query(sql);
          await query(`INSERT INTO ${SHARD_MIGRATIONS_TABLE} (id) VALUES ($1)`, [migration.id]);
          await query("COMMIT");
          return { shard: shard.index, status: "applied" as const };
        } catch (err) {
          await query("ROLLBACK").catch(() => {});
          throw err;
        }
      });
    } catch (err) {
      const info = classifyPostgresError(err);
      return {
        shard: shard.index,
        status: "failed",
        error: { message: info.message, sqlstate: info.sqlstate, position: info.position },
      };
    }
  }

  /** Applies one migration to every shard of `map` in parallel. */
  applyEverywhere(
    map: LiveMap,
    migration: Pick<MigrationRecord, "id" | "statements">,
  ): Promise<ShardMigrationOutcome[]> {
    return Promise.all([...map.shards.values()].map((s) => this.applyOne(s, migration)));
  }

  /**
   * Brings shards up to every recorded migration of their database, in recorded order, stopping
   * at a shard's first failure (later migrations may depend on it). Used when a shard joins a map.
   */
  async catchUp(map: LiveMap, shards: readonly LiveShard[]): Promise<void> {
    if (shards.length === 0) return;
    const migrations = await this.#store.migrations(map.database);
    if (migrations.length === 0) return;
    await Promise.all(
      shards.map(async (shard) => {
        for (const m of migrations) {
          const outcome = await this.applyOne(shard, m);
          if (outcome.status === "failed") {
            this.#logger.warn(
              { database: map.database, shard: shard.index, migration: m.id, error: outcome.error },
              "migration could not be applied to a joining shard; retried on the next map version or restart",
            );
            return;
          }
          if (outcome.status === "applied") {
            this.#logger.info(
              { database: map.database, shard: shard.index, migration: m.id },
              "migration applied to joining shard",
            );
          }
        }
      }),
    );
  }
}
