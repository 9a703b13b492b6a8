/**
 * Every per-target metric the receivers report. Names follow OpenTelemetry where a convention
 * exists (`db.client.connections.*`, the collector-contrib `postgresql.*`, `mysql.*`, `redis.*`,
 * `mongodb.*` receivers), written the Prometheus way (dots → underscores, unit and `_total`
 * suffixes). Labels are bounded: a target, its `db_system`, and small fixed value sets (plus
 * `queryid` for at most the top-N statements of a target).
 */
export const METRICS = {
  up: {
    name: "dbplane_collector_target_up",
    type: "gauge",
    help: "1 when the last collection succeeded",
    labels: [],
  },
  health: {
    name: "dbplane_collector_target_health",
    type: "gauge",
    help: "Health of the target: 0 up, 1 degraded, 2 down",
    labels: [],
  },
  scrapeSeconds: {
    name: "dbplane_collector_target_scrape_duration_seconds",
    type: "gauge",
    help: "Wall time of the last collection from the target",
    labels: [],
  },
  connectionsUsage: {
    name: "db_client_connections_usage",
    type: "gauge",
    help: "Server connections by state (PostgreSQL: pg_stat_activity states of this database)",
    labels: ["state"],
  },
  connectionsMax: {
    name: "db_client_connections_max",
    type: "gauge",
    help: "Most connections the server accepts",
    labels: [],
  },
  serverConnections: {
    name: "dbplane_collector_server_connections",
    type: "gauge",
    help: "Client connections to the whole server (compare with db_client_connections_max)",
    labels: [],
  },
  sizeBytes: {
    name: "db_size_bytes",
    type: "gauge",
    help: "Size of the database (PostgreSQL, MySQL schema)",
    labels: [],
  },
  pgCommits: {
    name: "postgresql_commits_total",
    type: "counter",
    help: "Committed transactions",
    labels: [],
  },
  pgRollbacks: {
    name: "postgresql_rollbacks_total",
    type: "counter",
    help: "Rolled back transactions",
    labels: [],
  },
  pgBlocks: {
    name: "postgresql_blocks_read_total",
    type: "counter",
    help: "Blocks read, by source (heap_hit = cache)",
    labels: ["source"],
  },
  pgRows: {
    name: "postgresql_rows_total",
    type: "counter",
    help: "Rows by operation",
    labels: ["operation"],
  },
  pgDeadlocks: {
    name: "postgresql_deadlocks_total",
    type: "counter",
    help: "Deadlocks detected",
    labels: [],
  },
  pgLocksWaiting: {
    name: "postgresql_locks_waiting",
    type: "gauge",
    help: "Lock requests not granted",
    labels: [],
  },
  pgLongestQuery: {
    name: "postgresql_query_longest_duration_seconds",
    type: "gauge",
    help: "Age of the longest running statement",
    labels: [],
  },
  pgLongestTransaction: {
    name: "postgresql_transaction_longest_duration_seconds",
    type: "gauge",
    help: "Age of the oldest open transaction",
    labels: [],
  },
  replicationLagBytes: {
    name: "db_replication_lag_bytes",
    type: "gauge",
    help: "WAL/offset not yet replayed (replica: received-replayed; primary: worst replica)",
    labels: [],
  },
  replicationLagSeconds: {
    name: "db_replication_lag_seconds",
    type: "gauge",
    help: "Replication delay (replica: age of the last replayed commit while behind; primary: worst replica)",
    labels: [],
  },
  replicas: {
    name: "db_replicas",
    type: "gauge",
    help: "Streaming replicas attached to a primary",
    labels: [],
  },
  pgStatementCallsRate: {
    name: "postgresql_statement_calls_rate",
    type: "gauge",
    help: "Calls per second of the top statements by time over the last interval (pg_stat_statements)",
    labels: ["queryid"],
  },
  pgStatementTimeRate: {
    name: "postgresql_statement_time_ratio",
    type: "gauge",
    help: "Execution seconds per second of the top statements over the last interval",
    labels: ["queryid"],
  },
  mysqlThreads: {
    name: "mysql_threads",
    type: "gauge",
    help: "Threads by kind (connected, running)",
    labels: ["kind"],
  },
  mysqlQueries: {
    name: "mysql_queries_total",
    type: "counter",
    help: "Statements executed (Queries)",
    labels: [],
  },
  mysqlSlowQueries: { name: "mysql_slow_queries_total", type: "counter", help: "Slow queries", labels: [] },
  mysqlCommands: {
    name: "mysql_commands_total",
    type: "counter",
    help: "Commands by kind",
    labels: ["command"],
  },
  redisClients: { name: "redis_clients_connected", type: "gauge", help: "Connected clients", labels: [] },
  redisMemory: { name: "redis_memory_used_bytes", type: "gauge", help: "Memory used", labels: [] },
  redisMemoryMax: {
    name: "redis_memory_max_bytes",
    type: "gauge",
    help: "maxmemory (0 = unlimited)",
    labels: [],
  },
  redisCommands: {
    name: "redis_commands_processed_total",
    type: "counter",
    help: "Commands processed",
    labels: [],
  },
  redisOps: {
    name: "redis_commands_per_second",
    type: "gauge",
    help: "Instantaneous operations per second",
    labels: [],
  },
  redisKeyspace: {
    name: "redis_keyspace_total",
    type: "counter",
    help: "Keyspace lookups by result",
    labels: ["result"],
  },
  redisKeys: {
    name: "redis_db_keys",
    type: "gauge",
    help: "Keys in the target's database index",
    labels: [],
  },
  mongoConnections: {
    name: "mongodb_connection_count",
    type: "gauge",
    help: "Connections by state",
    labels: ["state"],
  },
  mongoOperations: {
    name: "mongodb_operation_count_total",
    type: "counter",
    help: "Operations by type",
    labels: ["operation"],
  },
} as const;

export type MetricKey = keyof typeof METRICS;

/** One value of one series of a target. */
export interface SeriesValue {
  readonly metric: MetricKey;
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Stable key of a series within a target, e.g. `pgRows{operation=inserted}`. */
export function seriesKey(metric: MetricKey, labels?: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? metric : `${metric}{${parts.join(",")}}`;
}
