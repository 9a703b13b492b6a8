import type { ProjectionTables, ProjectionTx } from "@dbplane/projections";
import { endpointText } from "../domain/endpoint-text.ts";
import type { FleetEventHandler } from "./fleet.ts";

/** Managed databases are keyed `dbplane:<name>`, beside discovery's ids. */
export const managedId = (name: unknown) => `dbplane:${String(name)}`;

interface ShardData {
  readonly shard: number;
  readonly primary: unknown;
  readonly replicas: readonly unknown[];
}

async function upsertDatabase(
  tx: ProjectionTx,
  t: ProjectionTables,
  name: unknown,
  state: string,
  at: string,
  extra: { reason?: unknown; shards?: unknown },
) {
  await tx.query(
    `INSERT INTO ${t.table("databases")} (id, name, origin, state, reason, desired_shards, updated_at)
     VALUES ($1, $2, 'provisioner', $3, $4, $5, $6)
     ON CONFLICT (id) DO UPDATE SET state = $3, reason = $4, desired_shards = COALESCE($5, ${t.table("databases")}.desired_shards), updated_at = $6`,
    [managedId(name), name, state, extra.reason ?? null, extra.shards ?? null, at],
  );
}

async function upsertShard(
  tx: ProjectionTx,
  t: ProjectionTables,
  database: unknown,
  s: ShardData,
  state: string,
) {
  await tx.query(
    `INSERT INTO ${t.table("shards")} (database, shard, primary_endpoint, replicas, state) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (database, shard) DO UPDATE SET primary_endpoint = $3, replicas = $4, state = $5, reason = NULL`,
    [database, s.shard, endpointText(s.primary), JSON.stringify(s.replicas.map(endpointText)), state],
  );
}

/** provisioner `database.*` and `shard.*`: desired and actual state of managed databases. */
export const applyProvisionerEvent: FleetEventHandler = async (e, name, tx, t) => {
  const d = e.data;
  switch (name) {
    case "database.requested":
      return upsertDatabase(tx, t, d.name, "provisioning", e.time, { shards: d.shards });
    case "database.ready":
      await upsertDatabase(tx, t, d.name, "ready", e.time, {});
      for (const s of d.shards as ShardData[]) await upsertShard(tx, t, d.name, s, "ready");
      return;
    case "database.failed":
      return upsertDatabase(tx, t, d.name, "failed", e.time, { reason: d.reason });
    case "database.deleted":
      await upsertDatabase(tx, t, d.name, "deleted", e.time, {});
      await tx.query(`DELETE FROM ${t.table("shards")} WHERE database = $1`, [d.name]);
      return;
    case "shard.ready":
      return upsertShard(tx, t, d.database, d as unknown as ShardData, "ready");
    case "shard.failed":
      await tx.query(
        `INSERT INTO ${t.table("shards")} (database, shard, state, reason) VALUES ($1, $2, 'failed', $3)
         ON CONFLICT (database, shard) DO UPDATE SET state = 'failed', reason = $3`,
        [d.database, d.shard, d.reason],
      );
      return;
  }
};
