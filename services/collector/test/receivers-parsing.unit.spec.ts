import { describe, expect, it } from "vitest";
import { failureReason } from "../src/domain/failure-reason.ts";
import { healthOf } from "../src/domain/health.ts";
import { mongoObservation } from "../src/domain/mongo-status.ts";
import { mysqlObservation, statusMap } from "../src/domain/mysql-status.ts";
import { postgresObservation, topStatements } from "../src/domain/postgres-observation.ts";
import { redisObservation } from "../src/domain/redis-info.ts";

const limits = {
  maxReplicationLagSeconds: 30,
  maxReplicationLagBytes: 1_000_000,
  connectionsNearMaxRatio: 0.9,
  memoryNearMaxRatio: 0.9,
};

const pgRow = {
  xact_commit: "120",
  xact_rollback: "3",
  blks_read: "10",
  blks_hit: "990",
  tup_returned: "500",
  tup_fetched: "400",
  tup_inserted: "20",
  tup_updated: "5",
  tup_deleted: "1",
  deadlocks: "0",
  stats_reset: null,
  postmaster_start: "1700000000.5",
  size_bytes: "7700000",
  max_connections: 100,
  server_connections: "95",
  states: { active: 2, idle: 7, "idle in transaction": 1 },
  locks_waiting: "1",
  longest_query_s: "2.5",
  longest_xact_s: null,
  in_recovery: true,
};

describe("PostgreSQL", () => {
  it("reads counters, connection states and replica lag, and is degraded near max connections", () => {
    const obs = postgresObservation(pgRow, { lag_bytes: "4096", lag_s: "0", streaming: true });
    expect(obs.connections).toEqual({ used: 95, max: 100, database: 10 });
    expect(obs.replication).toEqual({ role: "replica", lagBytes: 4096, lagSeconds: 0, problems: [] });
    expect(obs.gauges).toContainEqual({
      metric: "connectionsUsage",
      labels: { state: "idle_in_transaction" },
      value: 1,
    });
    expect(obs.counters).toContainEqual({ metric: "pgRows", labels: { operation: "inserted" }, value: 20 });
    expect(healthOf(obs, limits)).toEqual({
      state: "degraded",
      reason: "connections 95 of 100 (95%) in use",
    });
  });

  it("is degraded by replication lag beyond the bound, and by a replica that stopped streaming", () => {
    const lagging = postgresObservation(
      { ...pgRow, server_connections: 5 },
      { lag_bytes: "1", lag_s: "45.2", streaming: false },
    );
    expect(healthOf(lagging, limits).reason).toBe(
      "replication lag 45.2 s exceeds 30 s; replica is not streaming from its primary",
    );
  });

  it("ranks statements by execution time between readings, leaving out new ones", () => {
    const before = new Map([
      ["1", { calls: 10, totalTimeMs: 100 }],
      ["2", { calls: 10, totalTimeMs: 100 }],
    ]);
    const after = new Map([
      ["1", { calls: 20, totalTimeMs: 200 }],
      ["2", { calls: 11, totalTimeMs: 2_100 }],
      ["3", { calls: 1, totalTimeMs: 9_999 }],
    ]);
    expect(topStatements(before, after, 10, 5)).toEqual([
      { queryid: "2", callsPerSecond: 0.1, timeRatio: 0.2 },
      { queryid: "1", callsPerSecond: 1, timeRatio: 0.01 },
    ]);
  });
});

describe("Redis INFO", () => {
  const info = [
    "# Server",
    "run_id:abc",
    "# Clients",
    "connected_clients:9500",
    "maxclients:10000",
    "# Memory",
    "used_memory:950",
    "maxmemory:1000",
    "# Stats",
    "total_commands_processed:777",
    "instantaneous_ops_per_sec:12",
    "keyspace_hits:30",
    "keyspace_misses:4",
    "# Replication",
    "role:master",
    "connected_slaves:1",
    "slave0:ip=10.0.0.2,port=6379,state=online,offset=900,lag=1",
    "master_repl_offset:1000",
    "# Keyspace",
    "db3:keys=42,expires=0,avg_ttl=0",
    "",
  ].join("\r\n");

  it("reads clients, memory, keyspace of the target's db and the worst replica's offset lag", () => {
    const obs = redisObservation(info, 3);
    expect(obs.gauges).toContainEqual({ metric: "redisKeys", value: 42 });
    expect(obs.replication).toEqual({ role: "primary", lagBytes: 100, lagSeconds: 1, problems: [] });
    expect(obs.counters).toContainEqual({ metric: "redisKeyspace", labels: { result: "miss" }, value: 4 });
    expect(obs.resetMarker).toBe("abc");
    expect(healthOf(obs, limits).reason).toBe(
      "connections 9500 of 10000 (95%) in use; memory 95% of maxmemory in use",
    );
  });

  it("reports a replica whose link is down", () => {
    const obs = redisObservation(
      "role:slave\r\nmaster_link_status:down\r\nmaster_repl_offset:10\r\nslave_repl_offset:4",
      0,
    );
    expect(obs.replication).toEqual({
      role: "replica",
      lagBytes: 6,
      problems: ["replica's link to its primary is down"],
    });
  });
});

describe("MySQL / MariaDB", () => {
  it("reads global status and a replica's lag from either generation of column names", () => {
    const status = statusMap([
      { Variable_name: "Threads_connected", Value: "12" },
      { Variable_name: "Queries", Value: "5000" },
      { Variable_name: "Com_commit", Value: "7" },
    ]);
    const old = mysqlObservation(
      status,
      151,
      { Slave_IO_Running: "Yes", Slave_SQL_Running: "Yes", Seconds_Behind_Master: 40 },
      1024,
    );
    expect(old.replication).toEqual({ role: "replica", lagSeconds: 40, problems: [] });
    const stopped = mysqlObservation(
      status,
      151,
      { Replica_IO_Running: "No", Replica_SQL_Running: "Yes", Seconds_Behind_Source: null },
      0,
    );
    expect(healthOf(stopped, limits).reason).toBe("replica IO thread is not running (No)");
    expect(mysqlObservation(status, 151, undefined, 0).replication.role).toBe("standalone");
  });
});

describe("MongoDB (no server here: documents as the driver returns them)", () => {
  const server = {
    connections: { current: 10, available: 90, active: 3 },
    opcounters: { insert: 5, query: 7, update: 1, delete: 0, getmore: 0, command: 40 },
  };

  it("reads connections and opcounters, standalone when replication is not enabled", () => {
    const obs = mongoObservation(server, undefined);
    expect(obs.connections).toEqual({ used: 10, max: 100 });
    expect(obs.counters).toContainEqual({
      metric: "mongoOperations",
      labels: { operation: "command" },
      value: 40,
    });
    expect(obs.replication.role).toBe("standalone");
  });

  it("computes a secondary's lag from the primary's optime", () => {
    const repl = {
      members: [
        { name: "a:27017", stateStr: "PRIMARY", optimeDate: new Date(100_000) },
        { name: "b:27017", stateStr: "SECONDARY", self: true, optimeDate: new Date(60_000) },
      ],
    };
    const obs = mongoObservation(server, repl);
    expect(obs.replication).toEqual({ role: "replica", lagSeconds: 40, problems: [] });
    expect(healthOf(obs, limits).state).toBe("degraded");
  });
});

describe("failure reasons", () => {
  it("names well-known failures and never carries the password", () => {
    const err = Object.assign(new Error('password authentication failed for user "app" (s3cr3t!)'), {
      code: "28P01",
    });
    expect(failureReason(err, "postgresql://db:5432/app", ["s3cr3t!"])).toBe(
      'postgresql://db:5432/app: password authentication failed for user "app" (***)',
    );
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    expect(failureReason(refused, "x")).toBe("x: connection refused: connect ECONNREFUSED 127.0.0.1:1");
  });
});
