import { type GenerationStore, projectionTables } from "@dbplane/projections";
import type pg from "pg";

export interface FleetView {
  readonly generation: number | null;
  readonly databases: Record<string, unknown>[];
  readonly apps: Record<string, unknown>[];
}

/**
 * The fleet from the active generation: each database with its shards, health and the apps
 * that use it; each app with the databases it uses. One snapshot (REPEATABLE READ).
 */
export async function readFleet(
  pool: pg.Pool,
  generations: GenerationStore,
  schema: string,
): Promise<FleetView> {
  const active = await generations.active("fleet");
  if (!active) return { generation: null, databases: [], apps: [] };
  const t = projectionTables(schema, "fleet", active.generation);
  const client = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    // Health: a found database is one collector target (its id); a provisioned one is every
    // server of its shards (`shard:<db>:<n>:<host>:<port>`), shown as the worst of them.
    const worst = (prefix: string) =>
      `(SELECT json_build_object('state', h.state, 'reason', h.reason, 'changedAt', h.changed_at, 'target', h.target)
          FROM ${t.table("health")} h WHERE starts_with(h.target, ${prefix})
          ORDER BY CASE h.state WHEN 'down' THEN 0 WHEN 'degraded' THEN 1 ELSE 2 END, h.changed_at DESC LIMIT 1)`;
    const databases = await client.query(
      `SELECT d.id, d.name, d.origin, d.engine, d.endpoint, d.dbname, d.server_version AS "serverVersion",
              d.managed_by AS "managedBy", d.state, d.reason, d.desired_shards AS "desiredShards", d.updated_at AS "updatedAt",
              CASE WHEN d.origin = 'provisioner' THEN ${worst(`'shard:' || d.name || ':'`)}
                   ELSE (SELECT json_build_object('state', h.state, 'reason', h.reason, 'changedAt', h.changed_at)
                           FROM ${t.table("health")} h WHERE h.target = d.id) END AS health,
              COALESCE((SELECT json_agg(json_build_object('shard', s.shard, 'primary', s.primary_endpoint, 'replicas', s.replicas,
                  'state', s.state, 'reason', s.reason, 'transactionsPerSecond', s.tps, 'connections', s.connections,
                  'sizeBytes', s.size_bytes, 'loadSampledAt', s.load_sampled_at, 'hotMultiple', s.hot_multiple, 'hotAt', s.hot_at,
                  'health', ${worst(`'shard:' || s.database || ':' || s.shard || ':'`)})
                  ORDER BY s.shard) FROM ${t.table("shards")} s WHERE s.database = d.name AND d.origin = 'provisioner'), '[]') AS shards,
              COALESCE((SELECT json_agg(json_build_object('id', a.id, 'name', a.name) ORDER BY a.name)
                  FROM ${t.table("apps")} a
                  WHERE NOT a.lost AND a.databases @> jsonb_build_array(jsonb_build_object('databaseId', d.id))), '[]') AS apps
       FROM ${t.table("databases")} d
       ORDER BY d.id`,
    );
    const apps = await client.query(
      `SELECT id, name, workload, databases, lost, updated_at AS "updatedAt" FROM ${t.table("apps")} ORDER BY id`,
    );
    await client.query("COMMIT");
    return { generation: active.generation, databases: databases.rows, apps: apps.rows };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
