import { backupCompleted, backupFailed } from "@dbplane/contracts";
import { inTransaction } from "@dbplane/service-kit";
import type pg from "pg";
import { aggregateOf, eventIds } from "../domain/database-spec.ts";
import { enqueueEvent } from "./outbox.ts";
import { clipReason, type ProgressContext } from "./progress-context.ts";
import type { ProvisionerTables } from "./schema-tables.ts";

/** One shard's backup as it ended: where it went and how big, or why it failed. */
export type BackupResult = { database: string; backupId: string; shard: number; startedAt: Date } & (
  | { ok: true; location: string; bytes: number; startLsn?: string | undefined; stopLsn?: string | undefined }
  | { ok: false; reason: string }
);

/** When a shard's backup started: now on the first attempt, the recorded time after that. */
export async function recordBackupStarted(
  { pool, t }: ProgressContext,
  database: string,
  backupId: string,
  shard: number,
): Promise<Date> {
  const { rows } = await pool.query<{ started_at: Date }>(
    `UPDATE ${t.backups} SET started_at = coalesce(started_at, now())
     WHERE database = $1 AND backup_id = $2 AND shard = $3 RETURNING started_at`,
    [database, backupId, shard],
  );
  return rows[0]?.started_at ?? new Date();
}

/** One shard's backup finished (or failed); the backup's operation ends when all its shards have. */
export function recordBackupFinished({ pool, t }: ProgressContext, result: BackupResult): Promise<void> {
  return inTransaction(pool, async (client) => {
    const completedAt = new Date();
    const operationId = await storeShardBackup(client, t, result, completedAt);
    if (!operationId) return;
    await announceShardBackup(client, t, result, completedAt, operationId);
    await client.query(
      `UPDATE ${t.operations} o SET state = CASE WHEN f.failed > 0 THEN 'failed' ELSE 'succeeded' END,
         error = CASE WHEN f.failed > 0 THEN f.failed || ' shard backup(s) failed' END, finished_at = now()
       FROM (SELECT count(*) FILTER (WHERE state = 'pending') AS pending, count(*) FILTER (WHERE state = 'failed') AS failed
             FROM ${t.backups} WHERE database = $2 AND backup_id = $3) f
       WHERE o.id = $1 AND o.state = 'pending' AND f.pending = 0`,
      [operationId, result.database, result.backupId],
    );
  });
}

/** Records the result if the shard's backup was still pending; returns its operation, else undefined. */
async function storeShardBackup(
  client: pg.PoolClient,
  t: ProvisionerTables,
  result: BackupResult,
  completedAt: Date,
): Promise<string | undefined> {
  const { rows } = await client.query(
    `UPDATE ${t.backups} SET state = $4, location = $5, bytes = $6, reason = $7, started_at = $8, completed_at = $9,
       start_lsn = $10, stop_lsn = $11,
       map_version = (SELECT map_version FROM ${t.shardOwners} WHERE database = $1)
     WHERE database = $1 AND backup_id = $2 AND shard = $3 AND state = 'pending' RETURNING operation_id`,
    [
      result.database,
      result.backupId,
      result.shard,
      result.ok ? "completed" : "failed",
      result.ok ? result.location : null,
      result.ok ? result.bytes : null,
      result.ok ? null : clipReason(result.reason),
      result.startedAt,
      completedAt,
      (result.ok && result.startLsn) || null,
      (result.ok && result.stopLsn) || null,
    ],
  );
  return rows[0]?.operation_id;
}

async function announceShardBackup(
  client: pg.PoolClient,
  t: ProvisionerTables,
  result: BackupResult,
  completedAt: Date,
  operationId: string,
): Promise<void> {
  const { database, backupId, shard } = result;
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
      { database, shard, backupId, reason: clipReason(result.reason) },
      { ...meta, id: eventIds.backupFailed(database, shard, backupId) },
    );
  }
}

/** Retention deleted these backups' files: their rows go too. */
export async function recordBackupsPruned(
  { pool, t }: ProgressContext,
  database: string,
  backupIds: readonly string[],
): Promise<void> {
  await pool.query(`DELETE FROM ${t.backups} WHERE database = $1 AND backup_id = ANY($2)`, [
    database,
    [...backupIds],
  ]);
}
