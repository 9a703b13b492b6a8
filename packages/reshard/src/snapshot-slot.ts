import pg from "pg";
import type { ShardConnection } from "./range-move-spec.ts";
import { shardClientConfig } from "./shard-client.ts";

/** A logical slot just created on a replication connection, and the snapshot it exported. */
export interface SnapshotSlot {
  /** The exported snapshot's id, for `SET TRANSACTION SNAPSHOT`; valid until release(). */
  readonly snapshot: string;
  /** The slot's consistent point: the stream from the slot starts right after what the snapshot sees. */
  readonly consistentPoint: string;
  /** Closes the replication connection; the slot stays (it is not temporary), the snapshot goes. */
  release(): Promise<void>;
}

/**
 * Creates the logical slot `name` (pgoutput) on a replication connection and exports its snapshot
 * (PostgreSQL 15's `(SNAPSHOT 'export')`): a transaction that imports it sees exactly what the
 * slot's stream starts after, so a copy in that snapshot and the stream from the slot meet with
 * nothing lost or applied twice. The snapshot lives as long as the connection runs no other
 * command: the caller releases it once every copy transaction imported it.
 */
export async function createSnapshotSlot(
  shard: ShardConnection,
  name: string,
  applicationName: string,
): Promise<SnapshotSlot> {
  // node-postgres passes `replication` in the startup packet; @types/pg does not declare it.
  const config = { ...shardClientConfig(shard, applicationName), replication: "database" } as pg.ClientConfig;
  const client = new pg.Client(config);
  client.on("error", () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ snapshot_name: string; consistent_point: string }>(
      `CREATE_REPLICATION_SLOT ${pg.escapeIdentifier(name)} LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    const row = rows[0]!;
    return {
      snapshot: row.snapshot_name,
      consistentPoint: row.consistent_point,
      release: () => client.end().catch(() => {}),
    };
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
}
