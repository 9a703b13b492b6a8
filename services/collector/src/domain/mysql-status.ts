import type { SeriesValue } from "./metric-catalog.ts";
import type { Observation, ReplicationView } from "./observation.ts";

/** The `SHOW GLOBAL STATUS` variables the MySQL receiver reads. */
export const MYSQL_STATUS_NAMES = [
  "Threads_connected",
  "Threads_running",
  "Queries",
  "Slow_queries",
  "Uptime",
  "Com_commit",
  "Com_rollback",
  "Com_select",
  "Com_insert",
  "Com_update",
  "Com_delete",
] as const;

/** `SHOW … STATUS/VARIABLES` rows as name → value. */
export function statusMap(rows: readonly { Variable_name: string; Value: string }[]): Map<string, string> {
  return new Map(rows.map((r) => [r.Variable_name, r.Value]));
}

/** A `SHOW REPLICA STATUS` (or `SHOW SLAVE STATUS`) row: the names differ by version. */
export type ReplicaStatusRow = Readonly<Record<string, unknown>>;

const pick = (row: ReplicaStatusRow, ...names: string[]) =>
  names.map((n) => row[n]).find((v) => v !== undefined);

/** Replication of a MySQL/MariaDB server from its replica status row (none: not a replica). */
export function mysqlReplication(row: ReplicaStatusRow | undefined): ReplicationView {
  if (!row) return { role: "standalone", problems: [] };
  const io = String(pick(row, "Replica_IO_Running", "Slave_IO_Running") ?? "");
  const sql = String(pick(row, "Replica_SQL_Running", "Slave_SQL_Running") ?? "");
  const behind = pick(row, "Seconds_Behind_Source", "Seconds_Behind_Master");
  const problems = [
    ...(io === "Yes" ? [] : [`replica IO thread is not running (${io || "unknown"})`]),
    ...(sql === "Yes" ? [] : [`replica SQL thread is not running (${sql || "unknown"})`]),
  ];
  return {
    role: "replica",
    ...(behind !== null && behind !== undefined && { lagSeconds: Number(behind) }),
    problems,
  };
}

/** The observation of one MySQL/MariaDB schema from global status, variables and replica status. */
export function mysqlObservation(
  status: ReadonlyMap<string, string>,
  maxConnections: number,
  replica: ReplicaStatusRow | undefined,
  schemaBytes: number,
): Observation {
  const value = (name: string) => Number(status.get(name) ?? 0);
  const connected = value("Threads_connected");
  const view = mysqlReplication(replica);
  const gauges: SeriesValue[] = [
    { metric: "mysqlThreads", labels: { kind: "connected" }, value: connected },
    { metric: "mysqlThreads", labels: { kind: "running" }, value: value("Threads_running") },
    { metric: "connectionsMax", value: maxConnections },
    { metric: "serverConnections", value: connected },
    { metric: "sizeBytes", value: schemaBytes },
    ...(view.lagSeconds !== undefined
      ? [{ metric: "replicationLagSeconds" as const, value: view.lagSeconds }]
      : []),
  ];
  const commands = ["commit", "rollback", "select", "insert", "update", "delete"] as const;
  return {
    gauges,
    counters: [
      { metric: "mysqlQueries", value: value("Queries") },
      { metric: "mysqlSlowQueries", value: value("Slow_queries") },
      ...commands.map((command) => ({
        metric: "mysqlCommands" as const,
        labels: { command },
        value: value(`Com_${command}`),
      })),
    ],
    // Uptime only grows; a restart is the one way counters go back, and rates handle that.
    connections: { used: connected, max: maxConnections },
    replication: view,
    sizeBytes: schemaBytes,
    rateGroups: {
      transactions: ["mysqlCommands{command=commit}", "mysqlCommands{command=rollback}"],
      operations: ["mysqlQueries"],
    },
  };
}
