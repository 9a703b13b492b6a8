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
import type { ProvisionerTables } from "./schema-tables.ts";
import { type ShardMapEntry, shardMapsOf } from "./shard-map-history.ts";
import { type ShardOwners, shardOwnersOf } from "./shard-owners.ts";

/** Reads of the provisioner's state (HTTP API, reconcile loop). */
export interface Queries {
  database(name: string): Promise<DatabaseRow | undefined>;
  databases(options?: { includeDeleted?: boolean }): Promise<DatabaseRow[]>;
  shards(name: string): Promise<ShardRow[]>;
  /** The shards of each named database (a name with none is absent). */
  shardsOf(names: readonly string[]): Promise<Map<string, ShardRow[]>>;
  /** Which shards the newest shard map the router published gives a range (undefined: none seen). */
  shardOwners(name: string): Promise<ShardOwners | undefined>;
  /** Every version of the database's shard map seen published, oldest first (kept after a delete). */
  shardMaps(name: string): Promise<ShardMapEntry[]>;
  operation(id: string): Promise<OperationRow | undefined>;
  /** The operation that asked for a version (its id is the correlation id of what it causes). */
  operationForVersion(name: string, version: number): Promise<string | undefined>;
  pendingBackups(name: string): Promise<BackupRow[]>;
  backups(name: string): Promise<BackupRow[]>;
  /** Databases with work: active ones (backing off after failures), ready ones due a drift check, ones with backups waiting. */
  dueForReconcile(resyncMs: number, limit: number): Promise<string[]>;
  /** How many databases are in each state. */
  counts(): Promise<{ state: string; count: number }[]>;
}

export function createQueries(pool: pg.Pool, t: ProvisionerTables): Queries {
  return {
    async database(name) {
      const { rows } = await pool.query(`SELECT * FROM ${t.databases} WHERE name = $1`, [name]);
      return rows[0] ? toDatabase(rows[0]) : undefined;
    },
    async databases(options = {}) {
      const { rows } = await pool.query(
        `SELECT * FROM ${t.databases} WHERE $1 OR state <> 'deleted' ORDER BY name`,
        [options.includeDeleted === true],
      );
      return rows.map(toDatabase);
    },
    async shards(name) {
      const { rows } = await pool.query(`SELECT * FROM ${t.shards} WHERE database = $1 ORDER BY shard`, [
        name,
      ]);
      return rows.map(toShard);
    },
    async shardsOf(names) {
      const { rows } = await pool.query(`SELECT * FROM ${t.shards} WHERE database = ANY($1) ORDER BY shard`, [
        names,
      ]);
      const out = new Map<string, ShardRow[]>();
      for (const row of rows.map(toShard)) out.set(row.database, [...(out.get(row.database) ?? []), row]);
      return out;
    },
    shardOwners: (name) => shardOwnersOf(pool, t, name),
    shardMaps: (name) => shardMapsOf(pool, t, name),
    async operation(id) {
      const { rows } = await pool.query(`SELECT * FROM ${t.operations} WHERE id = $1`, [id]);
      return rows[0] ? toOperation(rows[0]) : undefined;
    },
    async operationForVersion(name, version) {
      const { rows } = await pool.query(
        `SELECT id FROM ${t.operations} WHERE database = $1 AND target_version = $2 AND kind <> 'backup'
         ORDER BY created_at LIMIT 1`,
        [name, version],
      );
      return rows[0]?.id;
    },
    async pendingBackups(name) {
      const { rows } = await pool.query(
        `SELECT * FROM ${t.backups} WHERE database = $1 AND state = 'pending' ORDER BY backup_id, shard`,
        [name],
      );
      return rows.map(toBackup);
    },
    async backups(name) {
      const { rows } = await pool.query(
        `SELECT * FROM ${t.backups} WHERE database = $1 ORDER BY backup_id, shard`,
        [name],
      );
      return rows.map(toBackup);
    },
    async dueForReconcile(resyncMs, limit) {
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
    async counts() {
      const { rows } = await pool.query(
        `SELECT state, count(*)::int AS count FROM ${t.databases} GROUP BY state`,
      );
      return rows;
    },
  };
}
