import type pg from "pg";
import type { ProvisionerTables } from "./schema-tables.ts";

/** Which shards the newest shard map the router published gives a range, as the provisioner saw it. */
export interface ShardOwners {
  readonly mapVersion: number;
  readonly owners: readonly number[];
}

/**
 * Keeps the owners of a newer map version; an older or repeated version changes nothing (events
 * may come twice or late). True when stored.
 */
export async function recordShardOwners(
  pool: pg.Pool,
  t: ProvisionerTables,
  map: { database: string; version: number; ranges: readonly { shard: number }[] },
): Promise<boolean> {
  const owners = [...new Set(map.ranges.map((r) => r.shard))].sort((a, b) => a - b);
  const { rowCount } = await pool.query(
    `INSERT INTO ${t.shardOwners} (database, map_version, owners) VALUES ($1, $2, $3)
     ON CONFLICT (database) DO UPDATE SET map_version = $2, owners = $3, updated_at = now()
       WHERE ${t.shardOwners}.map_version < $2`,
    [map.database, map.version, owners],
  );
  return (rowCount ?? 0) > 0;
}

/** The owners of the newest map seen for `database`, or undefined when the router never published one. */
export async function shardOwnersOf(
  db: pg.Pool | pg.PoolClient,
  t: ProvisionerTables,
  database: string,
): Promise<ShardOwners | undefined> {
  const { rows } = await db.query(`SELECT map_version, owners FROM ${t.shardOwners} WHERE database = $1`, [
    database,
  ]);
  return rows[0] ? { mapVersion: rows[0].map_version, owners: rows[0].owners } : undefined;
}

/** Forgets a deleted database's owners: a database made again under the name starts a new map. */
export async function forgetShardOwners(
  db: pg.Pool | pg.PoolClient,
  t: ProvisionerTables,
  database: string,
): Promise<void> {
  await db.query(`DELETE FROM ${t.shardOwners} WHERE database = $1`, [database]);
}
