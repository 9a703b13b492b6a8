import { counterIncrease } from "./counter-rates.ts";
import type { SeriesValue } from "./metric-catalog.ts";
import type { Observation, ReplicationView } from "./observation.ts";

/** One row of the PostgreSQL overview query (bigints arrive as strings). */
export interface PostgresOverviewRow {
  readonly xact_commit: string | number;
  readonly xact_rollback: string | number;
  readonly blks_read: string | number;
  readonly blks_hit: string | number;
  readonly tup_returned: string | number;
  readonly tup_fetched: string | number;
  readonly tup_inserted: string | number;
  readonly tup_updated: string | number;
  readonly tup_deleted: string | number;
  readonly deadlocks: string | number;
  readonly stats_reset: string | number | null;
  readonly postmaster_start: string | number;
  readonly size_bytes: string | number;
  readonly max_connections: string | number;
  readonly server_connections: string | number;
  readonly states: Readonly<Record<string, number>> | null;
  readonly locks_waiting: string | number;
  readonly longest_query_s: string | number | null;
  readonly longest_xact_s: string | number | null;
  readonly in_recovery: boolean;
}

/** Replication figures: on a primary over its replicas, on a replica about itself. */
export interface PostgresReplicationRow {
  readonly replicas?: string | number;
  readonly lag_bytes: string | number | null;
  readonly lag_s: string | number | null;
  /** Replica only: whether a WAL receiver is streaming. */
  readonly streaming?: boolean;
}

const num = (v: string | number | null | undefined) =>
  v === null || v === undefined ? undefined : Number(v);

const TUPLES = ["returned", "inserted", "updated", "deleted"] as const;

function replicationView(inRecovery: boolean, row: PostgresReplicationRow | undefined): ReplicationView {
  if (!row) return { role: inRecovery ? "replica" : "standalone", problems: [] };
  const lagBytes = num(row.lag_bytes);
  const lagSeconds = num(row.lag_s);
  if (inRecovery) {
    return {
      role: "replica",
      ...(lagBytes !== undefined && { lagBytes: Math.max(0, lagBytes) }),
      ...(lagSeconds !== undefined && { lagSeconds: Math.max(0, lagSeconds) }),
      problems: row.streaming === false ? ["replica is not streaming from its primary"] : [],
    };
  }
  const replicas = num(row.replicas) ?? 0;
  return {
    role: replicas > 0 ? "primary" : "standalone",
    ...(replicas > 0 && lagBytes !== undefined && { lagBytes: Math.max(0, lagBytes) }),
    ...(replicas > 0 && lagSeconds !== undefined && { lagSeconds: Math.max(0, lagSeconds) }),
    problems: [],
  };
}

/** The observation of one PostgreSQL database from the overview and replication rows. */
export function postgresObservation(
  row: PostgresOverviewRow,
  replication: PostgresReplicationRow | undefined,
): Observation {
  const counters: SeriesValue[] = [
    { metric: "pgCommits", value: Number(row.xact_commit) },
    { metric: "pgRollbacks", value: Number(row.xact_rollback) },
    { metric: "pgBlocks", labels: { source: "heap_read" }, value: Number(row.blks_read) },
    { metric: "pgBlocks", labels: { source: "heap_hit" }, value: Number(row.blks_hit) },
    { metric: "pgDeadlocks", value: Number(row.deadlocks) },
    ...(["returned", "fetched", "inserted", "updated", "deleted"] as const).map((operation) => ({
      metric: "pgRows" as const,
      labels: { operation },
      value: Number(row[`tup_${operation}`]),
    })),
  ];
  const states = row.states ?? {};
  const databaseConnections = Object.values(states).reduce((a, b) => a + Number(b), 0);
  const view = replicationView(row.in_recovery, replication);
  const gauges: SeriesValue[] = [
    ...Object.entries(states).map(([state, n]) => ({
      metric: "connectionsUsage" as const,
      labels: { state: state.replaceAll(" ", "_").replace(/[^a-z_]/g, "") || "unknown" },
      value: Number(n),
    })),
    { metric: "connectionsMax", value: Number(row.max_connections) },
    { metric: "serverConnections", value: Number(row.server_connections) },
    { metric: "sizeBytes", value: Number(row.size_bytes) },
    { metric: "pgLocksWaiting", value: Number(row.locks_waiting) },
    { metric: "pgLongestQuery", value: num(row.longest_query_s) ?? 0 },
    { metric: "pgLongestTransaction", value: num(row.longest_xact_s) ?? 0 },
    ...replicationGauges(view, num(replication?.replicas)),
  ];
  return {
    gauges,
    counters,
    // A server restart or pg_stat_reset() restarts every counter of the database.
    resetMarker: `${row.postmaster_start}/${row.stats_reset ?? ""}`,
    connections: {
      used: Number(row.server_connections),
      max: Number(row.max_connections),
      database: databaseConnections,
    },
    replication: view,
    sizeBytes: Number(row.size_bytes),
    rateGroups: {
      transactions: ["pgCommits", "pgRollbacks"],
      tuples: TUPLES.map((op) => `pgRows{operation=${op}}`),
      operations: ["pgCommits", "pgRollbacks"],
    },
  };
}

function replicationGauges(view: ReplicationView, replicas: number | undefined): SeriesValue[] {
  return [
    ...(view.lagBytes !== undefined
      ? [{ metric: "replicationLagBytes" as const, value: view.lagBytes }]
      : []),
    ...(view.lagSeconds !== undefined
      ? [{ metric: "replicationLagSeconds" as const, value: view.lagSeconds }]
      : []),
    ...(replicas !== undefined ? [{ metric: "replicas" as const, value: replicas }] : []),
  ];
}

/** Cumulative pg_stat_statements figures of one statement. */
export interface StatementTotals {
  readonly calls: number;
  readonly totalTimeMs: number;
}

/** A statement's share of the last interval. */
export interface StatementRate {
  readonly queryid: string;
  readonly callsPerSecond: number;
  /** Execution seconds per second (1.0 = one backend busy with it all the time). */
  readonly timeRatio: number;
}

/**
 * The `limit` statements that took the most execution time between two readings. Statements
 * without a previous reading have no baseline and are left out (they appear next time).
 */
export function topStatements(
  previous: ReadonlyMap<string, StatementTotals>,
  current: ReadonlyMap<string, StatementTotals>,
  seconds: number,
  limit: number,
): StatementRate[] {
  if (!(seconds > 0)) return [];
  const rates: StatementRate[] = [];
  for (const [queryid, now] of current) {
    const before = previous.get(queryid);
    if (!before) continue;
    const calls = counterIncrease(before.calls, now.calls);
    const timeMs = counterIncrease(before.totalTimeMs, now.totalTimeMs);
    if (calls === 0 && timeMs === 0) continue;
    rates.push({ queryid, callsPerSecond: calls / seconds, timeRatio: timeMs / 1000 / seconds });
  }
  return rates
    .sort((a, b) => b.timeRatio - a.timeRatio || a.queryid.localeCompare(b.queryid))
    .slice(0, limit);
}
