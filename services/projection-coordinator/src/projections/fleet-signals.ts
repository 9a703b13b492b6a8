import type { FleetEventHandler } from "./fleet.ts";

/** collector and router signals: target health, shard load, hot shards. */
export const applyShardSignal: FleetEventHandler = async (e, name, tx, t) => {
  const d = e.data;
  switch (name) {
    case "target.health-changed":
      await tx.query(
        `INSERT INTO ${t.table("health")} (target, engine, state, reason, changed_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (target) DO UPDATE SET engine = $2, state = $3, reason = $4, changed_at = $5
         WHERE ${t.table("health")}.changed_at <= $5`,
        [d.target, d.engine, d.state, d.reason, d.changedAt],
      );
      return;
    case "shard.load-sampled":
      await tx.query(
        `INSERT INTO ${t.table("shards")} (database, shard, tps, connections, size_bytes, load_sampled_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (database, shard) DO UPDATE SET tps = $3, connections = $4, size_bytes = COALESCE($5, ${t.table("shards")}.size_bytes),
           load_sampled_at = $6`,
        [d.database, d.shard, d.transactionsPerSecond, d.connections, d.sizeBytes ?? null, d.sampledAt],
      );
      return;
    case "shard.hot":
      await tx.query(
        `INSERT INTO ${t.table("shards")} (database, shard, hot_multiple, hot_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (database, shard) DO UPDATE SET hot_multiple = $3, hot_at = $4`,
        [d.database, d.shard, d.multiple, d.detectedAt],
      );
      return;
  }
};
