import type pg from "pg";
import { ACTIVE_STATES } from "../domain/states.ts";
import {
  type BackupRow,
  type DatabaseRow,
  type OperationRow,
  type ShardRow,
  toBackup,
  toDatabase,
  toOperation,
  toShard,
} from "./rows.ts";
import type { ProvisionerTables } from "./tables.ts";

/** Reads of the provisioner's state (HTTP API, reconcile loop). */
export function createQueries(pool: pg.Pool, t: ProvisionerTables) {
  return {
    async database(name: string): Promise<DatabaseRow | undefined> {
      const { rows } = await pool.query(`SELECT * FROM ${t.databases} WHERE name = $1`, [name]);
      return rows[0] ? toDatabase(rows[0]) : undefined;
    },
    async databases(options: { includeDeleted?: boolean } = {}): Promise<DatabaseRow[]> {
      const { rows } = await pool.query(
        `SELECT * FROM ${t.databases} WHERE $1 OR state <> 'deleted' ORDER BY name`,
        [options.includeDeleted === true],
      );
      return rows.map(toDatabase);
    },
    async shards(name: string): Promise<ShardRow[]> {
      const { rows } = await pool.query(`SELECT * FROM ${t.shards} WHERE database = $1 ORDER BY shard`, [
        name,
      ]);
      return rows.map(toShard);
    },
    async shardsOf(names: readonly string[]): Promise<Map<string, ShardRow[]>> {
      const { rows } = await pool.query(`SELECT * FROM ${t.shards} WHERE database = ANY($1) ORDER BY shard`, [
        names,
      ]);
      const out = new Map<string, ShardRow[]>();
      for (const row of rows.map(toShard)) out.set(row.database, [...(out.get(row.database) ?? []), row]);
      return out;
    },
    async operation(id: string): Promise<OperationRow | undefined> {
      const { rows } = await pool.query(`SELECT * FROM ${t.operations} WHERE id = $1`, [id]);
      return rows[0] ? toOperation(rows[0]) : undefined;
    },
    /** The operation that asked for a version (its id is the correlation id of what it causes). */
    async operationForVersion(name: string, version: number): Promise<string | undefined> {
      const { rows } = await pool.query(
        `SELECT id FROM ${t.operations} WHERE database = $1 AND target_version = $2 AND kind <> 'backup'
         ORDER BY created_at LIMIT 1`,
        [name, version],
      );
      return rows[0]?.id;
    },
    async pendingBackups(name: string): Promise<BackupRow[]> {
      const { rows } = await pool.query(
        `SELECT * FROM ${t.backups} WHERE database = $1 AND state = 'pending' ORDER BY backup_id, shard`,
        [name],
      );
      return rows.map(toBackup);
    },
    async backups(name: string): Promise<BackupRow[]> {
      const { rows } = await pool.query(
        `SELECT * FROM ${t.backups} WHERE database = $1 ORDER BY backup_id, shard`,
        [name],
      );
      return rows.map(toBackup);
    },
    /** Databases with work: active ones (backing off after failures), ready ones due a drift check, ones with backups waiting. */
    async dueForReconcile(resyncMs: number, limit: number): Promise<string[]> {
      const { rows } = await pool.query<{ name: string }>(
        `SELECT name FROM ${t.databases} d
         WHERE (state = ANY($1)
                -- After a transient failure, wait 2^attempts seconds (at most a minute) before the next pass.
                AND (attempts = 0 OR updated_at < now() - make_interval(secs => least(power(2, attempts), 60))))
            OR (state = 'ready' AND (last_reconciled_at IS NULL OR last_reconciled_at < now() - make_interval(secs => $2)))
            OR (state = 'ready' AND EXISTS (SELECT 1 FROM ${t.backups} b WHERE b.database = d.name AND b.state = 'pending'))
         ORDER BY updated_at LIMIT $3`,
        [ACTIVE_STATES, resyncMs / 1000, limit],
      );
      return rows.map((r) => r.name);
    },
    async counts(): Promise<{ state: string; count: number }[]> {
      const { rows } = await pool.query(
        `SELECT state, count(*)::int AS count FROM ${t.databases} GROUP BY state`,
      );
      return rows;
    },
  };
}

export type Queries = ReturnType<typeof createQueries>;
