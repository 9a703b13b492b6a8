import type { ShardMapPublished } from "@dbplane/contracts";
import type pg from "pg";
import type { ProvisionerTables } from "./schema-tables.ts";

/** A shard's half-open range of the keyspace, as the router publishes it. */
export type HashRange = ShardMapPublished["ranges"][number];

/** One version of a database's shard map as the provisioner saw it published. */
export interface ShardMapEntry {
  readonly version: number;
  /** Null: only the version is known (kept at a delete from before the history existed). */
  readonly ranges: readonly HashRange[] | null;
  /** When the router published it (the event's time): in force from then until the next version. */
  readonly inForceFrom: Date;
}

/** Keeps a published version; a repeat changes nothing, except to fill in ranges that were unknown. */
export async function recordShardMap(
  pool: pg.Pool,
  t: ProvisionerTables,
  map: { database: string; version: number; ranges: readonly HashRange[] },
  inForceFrom: Date,
): Promise<void> {
  await pool.query(
    `INSERT INTO ${t.shardMaps} (database, version, ranges, in_force_from) VALUES ($1, $2, $3, $4)
     ON CONFLICT (database, version) DO UPDATE SET ranges = EXCLUDED.ranges, in_force_from = EXCLUDED.in_force_from
       WHERE ${t.shardMaps}.ranges IS NULL`,
    [map.database, map.version, JSON.stringify(map.ranges), inForceFrom],
  );
}

/**
 * At a delete, the version in force is kept even when its ranges are not (a map published
 * before the history existed): a restore then knows whether the default ranges are right.
 */
export async function keepShardMapVersion(
  client: pg.PoolClient,
  t: ProvisionerTables,
  database: string,
): Promise<void> {
  await client.query(
    `INSERT INTO ${t.shardMaps} (database, version, ranges, in_force_from)
     SELECT database, map_version, NULL, updated_at FROM ${t.shardOwners} WHERE database = $1
     ON CONFLICT (database, version) DO NOTHING`,
    [database],
  );
}

/** A name made again starts a new map: the deleted database's history goes. */
export async function forgetShardMaps(
  client: pg.PoolClient,
  t: ProvisionerTables,
  database: string,
): Promise<void> {
  await client.query(`DELETE FROM ${t.shardMaps} WHERE database = $1`, [database]);
}

/** Every version kept for `database`, oldest first. */
export async function shardMapsOf(
  db: pg.Pool | pg.PoolClient,
  t: ProvisionerTables,
  database: string,
): Promise<ShardMapEntry[]> {
  const { rows } = await db.query(
    `SELECT version, ranges, in_force_from FROM ${t.shardMaps} WHERE database = $1 ORDER BY version`,
    [database],
  );
  return rows.map((r) => ({ version: r.version, ranges: r.ranges, inForceFrom: r.in_force_from }));
}
