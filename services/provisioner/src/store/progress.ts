import {
  backupCompleted,
  backupFailed,
  databaseDeleted,
  databaseFailed,
  databaseReady,
  shardFailed,
  shardReady,
} from "@dbplane/contracts";
import { inTransaction } from "@dbplane/service-kit";
import type pg from "pg";
import { aggregateOf, eventIds } from "../domain/database-spec.ts";
import { enqueueEvent } from "./outbox.ts";
import { type DatabaseRow, type ShardEndpoint, toDatabase } from "./rows.ts";
import type { ProvisionerTables } from "./schema-tables.ts";

const REASON_MAX = 2_000;
const clip = (reason: string) =>
  reason.length > REASON_MAX ? `${reason.slice(0, REASON_MAX - 1)}…` : reason;

/**
 * The reconcile side's writes. Each checks that the database is still at the version the
 * reconcile pass read (a change accepted meanwhile makes the pass's result stale: the next pass
 * redoes it), and writes its events to the outbox in the same transaction.
 */
export function createProgress(pool: pg.Pool, t: ProvisionerTables) {
  const atVersion = async (
    client: pg.PoolClient,
    name: string,
    version: number,
  ): Promise<DatabaseRow | undefined> => {
    const { rows } = await client.query(
      `SELECT * FROM ${t.databases} WHERE name = $1 AND version = $2 FOR UPDATE`,
      [name, version],
    );
    return rows[0] ? toDatabase(rows[0]) : undefined;
  };
  const finishOperations = (
    client: pg.PoolClient,
    name: string,
    kinds: string[],
    version: number,
    error?: string,
  ) =>
    client.query(
      `UPDATE ${t.operations} SET state = $4, error = $5, finished_at = now()
       WHERE database = $1 AND state = 'pending' AND kind = ANY($2) AND target_version <= $3`,
      [name, kinds, version, error === undefined ? "succeeded" : "failed", error ?? null],
    );

  return {
    startProvisioning: (name: string, version: number) =>
      pool.query(
        `UPDATE ${t.databases} SET state = 'provisioning', updated_at = now() WHERE name = $1 AND version = $2 AND state = 'requested'`,
        [name, version],
      ),

    /** Records a shard ready at `version` and announces it once per version. */
    shardReady: (
      name: string,
      version: number,
      shard: number,
      endpoint: ShardEndpoint,
      correlationId: string,
    ) =>
      inTransaction(pool, async (client) => {
        if (!(await atVersion(client, name, version))) return;
        const { rowCount } = await client.query(
          `UPDATE ${t.shards} SET state = 'ready', endpoint = $3, reason = NULL, ready_version = $4, updated_at = now()
           WHERE database = $1 AND shard = $2 AND (ready_version IS DISTINCT FROM $4 OR state <> 'ready')`,
          [name, shard, JSON.stringify(endpoint), version],
        );
        if (rowCount === 0) return;
        await enqueueEvent(
          client,
          t,
          shardReady,
          { database: name, shard, ...endpoint },
          {
            id: eventIds.shardReady(name, shard, version),
            subject: aggregateOf.shard(name, shard),
            correlationId,
          },
        );
      }),

    /** Every shard is ready: the database is, its pending create/change operations succeed. */
    databaseReady: (name: string, version: number, correlationId: string) =>
      inTransaction(pool, async (client) => {
        const db = await atVersion(client, name, version);
        if (!db || db.state === "ready" || db.state === "deleting" || db.state === "deleted") return false;
        const { rows } = await client.query(
          `SELECT shard, endpoint FROM ${t.shards} WHERE database = $1 AND state = 'ready' ORDER BY shard`,
          [name],
        );
        if (rows.length !== db.spec.shards) return false;
        await client.query(
          `UPDATE ${t.databases} SET state = 'ready', attempts = 0, reason = NULL, last_reconciled_at = now(),
             updated_at = now() WHERE name = $1`,
          [name],
        );
        await finishOperations(client, name, ["create", "add-shard", "scale-replicas"], version);
        await enqueueEvent(
          client,
          t,
          databaseReady,
          {
            name,
            version,
            postgresVersion: db.spec.postgresVersion,
            shards: rows.map((r) => ({ shard: r.shard, ...r.endpoint })),
          },
          { id: eventIds.ready(name, version), subject: aggregateOf.database(name), correlationId },
        );
        return true;
      }),

    /** The database cannot be made real: failed (terminal until asked again), with the reason. */
    databaseFailed: (name: string, version: number, reason: string, correlationId: string, shard?: number) =>
      inTransaction(pool, async (client) => {
        const db = await atVersion(client, name, version);
        if (!db || db.state === "failed" || db.state === "deleting" || db.state === "deleted") return;
        const why = clip(reason);
        await client.query(
          `UPDATE ${t.databases} SET state = 'failed', reason = $2, updated_at = now() WHERE name = $1`,
          [name, why],
        );
        if (shard !== undefined) {
          await client.query(
            `UPDATE ${t.shards} SET state = 'failed', reason = $3, updated_at = now() WHERE database = $1 AND shard = $2`,
            [name, shard, why],
          );
          await enqueueEvent(
            client,
            t,
            shardFailed,
            { database: name, shard, reason: why },
            {
              id: eventIds.shardFailed(name, shard, version),
              subject: aggregateOf.shard(name, shard),
              correlationId,
            },
          );
        }
        await finishOperations(client, name, ["create", "add-shard", "scale-replicas"], version, why);
        await enqueueEvent(
          client,
          t,
          databaseFailed,
          { name, reason: why },
          {
            id: eventIds.failed(name, version),
            subject: aggregateOf.database(name),
            correlationId,
          },
        );
      }),

    /** A transient failure: counts it and returns the count (the reconciler gives up at its limit). */
    recordAttempt: async (name: string, version: number, reason: string): Promise<number> => {
      const { rows } = await pool.query(
        `UPDATE ${t.databases} SET attempts = attempts + 1, reason = $3, updated_at = now()
         WHERE name = $1 AND version = $2 RETURNING attempts`,
        [name, version, clip(reason)],
      );
      return rows[0]?.attempts ?? 0;
    },

    /** A pass went through without error: the backoff of earlier failures ends. */
    clearAttempts: (name: string, version: number) =>
      pool.query(
        `UPDATE ${t.databases} SET attempts = 0, reason = NULL WHERE name = $1 AND version = $2 AND attempts > 0`,
        [name, version],
      ),

    /** A resync of a ready database found nothing (left) to do. */
    reconciled: (name: string, version: number) =>
      pool.query(`UPDATE ${t.databases} SET last_reconciled_at = now() WHERE name = $1 AND version = $2`, [
        name,
        version,
      ]),

    /** Everything of the database is gone (volumes kept if asked). */
    databaseDeleted: (name: string, version: number, correlationId: string) =>
      inTransaction(pool, async (client) => {
        const db = await atVersion(client, name, version);
        if (db?.state !== "deleting") return;
        await client.query(
          `UPDATE ${t.databases} SET state = 'deleted', updated_at = now() WHERE name = $1`,
          [name],
        );
        await client.query(
          `UPDATE ${t.shards} SET state = 'deleted', updated_at = now() WHERE database = $1`,
          [name],
        );
        await finishOperations(client, name, ["delete"], version);
        await enqueueEvent(
          client,
          t,
          databaseDeleted,
          { name, volumesKept: db.keepVolumes },
          {
            id: eventIds.deleted(name, version),
            subject: aggregateOf.database(name),
            correlationId,
          },
        );
      }),

    /** When a shard's backup started: now on the first attempt, the recorded time after that. */
    backupStarted: async (database: string, backupId: string, shard: number): Promise<Date> => {
      const { rows } = await pool.query<{ started_at: Date }>(
        `UPDATE ${t.backups} SET started_at = coalesce(started_at, now())
         WHERE database = $1 AND backup_id = $2 AND shard = $3 RETURNING started_at`,
        [database, backupId, shard],
      );
      return rows[0]?.started_at ?? new Date();
    },

    /** One shard's backup finished (or failed); the backup's operation ends when all its shards have. */
    backupFinished: (
      result: { database: string; backupId: string; shard: number; startedAt: Date } & (
        | { ok: true; location: string; bytes: number }
        | { ok: false; reason: string }
      ),
    ) =>
      inTransaction(pool, async (client) => {
        const { database, backupId, shard } = result;
        const completedAt = new Date();
        const { rows } = await client.query(
          `UPDATE ${t.backups} SET state = $4, location = $5, bytes = $6, reason = $7, started_at = $8, completed_at = $9
           WHERE database = $1 AND backup_id = $2 AND shard = $3 AND state = 'pending' RETURNING operation_id`,
          [
            database,
            backupId,
            shard,
            result.ok ? "completed" : "failed",
            result.ok ? result.location : null,
            result.ok ? result.bytes : null,
            result.ok ? null : clip(result.reason),
            result.startedAt,
            completedAt,
          ],
        );
        const operationId: string | undefined = rows[0]?.operation_id;
        if (!operationId) return;
        const meta = { subject: aggregateOf.shard(database, shard), correlationId: operationId };
        if (result.ok) {
          await enqueueEvent(
            client,
            t,
            backupCompleted,
            {
              database,
              shard,
              backupId,
              location: result.location,
              bytes: result.bytes,
              startedAt: result.startedAt.toISOString(),
              completedAt: completedAt.toISOString(),
            },
            { ...meta, id: eventIds.backupCompleted(database, shard, backupId) },
          );
        } else {
          await enqueueEvent(
            client,
            t,
            backupFailed,
            { database, shard, backupId, reason: clip(result.reason) },
            {
              ...meta,
              id: eventIds.backupFailed(database, shard, backupId),
            },
          );
        }
        await client.query(
          `UPDATE ${t.operations} o SET state = CASE WHEN f.failed > 0 THEN 'failed' ELSE 'succeeded' END,
             error = CASE WHEN f.failed > 0 THEN f.failed || ' shard backup(s) failed' END, finished_at = now()
           FROM (SELECT count(*) FILTER (WHERE state = 'pending') AS pending, count(*) FILTER (WHERE state = 'failed') AS failed
                 FROM ${t.backups} WHERE database = $2 AND backup_id = $3) f
           WHERE o.id = $1 AND o.state = 'pending' AND f.pending = 0`,
          [operationId, database, backupId],
        );
      }),
  };
}

export type Progress = ReturnType<typeof createProgress>;
