import { CountedHistogram } from "@dbplane/service-kit";
import { Counter, Gauge, type Registry } from "prom-client";
import type { ShardLoad } from "./load/load-window.ts";
import type { PreparedCounts } from "./shards/prepared-statements.ts";
import type { ShardMapRegistry } from "./shards/shard-map-registry.ts";
import { type WireMetrics, wirePathCounts } from "./wire/wire-context.ts";
import type { WireEndpoint } from "./wire/wire-endpoint.ts";

/** One shard's series, resolved once: label lookups stay off the per-query path. */
export interface ShardSeries {
  observe(ok: boolean, seconds: number): void;
}

export interface RouterMetrics {
  series(database: string, shard: number): ShardSeries;
  /** The cluster-wide window (from Redis), refreshed by the hot-shard detector. */
  setWindow(loads: readonly ShardLoad[]): void;
  /** The wire endpoint's counts (client connections, statements by route). */
  readonly wire: WireMetrics;
  /** Reports the wire endpoint's pools and plan cache from now on. */
  watchWire(endpoint: Pick<WireEndpoint, "pools" | "planners">): void;
  /** Decisions of the autoSplit policy on hot or big shards. */
  readonly autoSplitDecisions: Counter<"decision">;
  /** Reshards ended on this replica, by how they ended. */
  readonly reshardsEnded: Counter<"state">;
  /** A pooled shard connection reset after HTTP caller SQL that may have changed its session. */
  readonly sessionReset: () => void;
}

/** The router's `dbplane_router_*` metrics on the app's registry. */
export function createRouterMetrics(
  registry: Registry,
  maps: ShardMapRegistry,
  prepared?: PreparedCounts,
): RouterMetrics {
  const queries = new Counter({
    name: "dbplane_router_queries_total",
    help: "Statements routed by this replica, by shard and outcome",
    labelNames: ["database", "shard", "outcome"] as const,
    registers: [registry],
  });
  // Counted in plain numbers (service-kit): prom-client's observe hashes labels and looks buckets
  // up by float keys per call, and this runs once per statement.
  const duration = new CountedHistogram({
    name: "dbplane_router_query_duration_seconds",
    help: "Time from routing a statement to its result, by shard (this replica)",
    labelNames: ["database", "shard"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const rate = new Gauge({
    name: "dbplane_router_shard_query_rate",
    help: "Queries per second on a shard over the sliding window, all router replicas",
    labelNames: ["database", "shard"] as const,
    registers: [registry],
  });
  const errorRate = new Gauge({
    name: "dbplane_router_shard_error_rate",
    help: "Failed queries per second on a shard over the sliding window, all router replicas",
    labelNames: ["database", "shard"] as const,
    registers: [registry],
  });
  const latency = new Gauge({
    name: "dbplane_router_shard_mean_latency_seconds",
    help: "Mean query latency on a shard over the sliding window, all router replicas",
    labelNames: ["database", "shard"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "dbplane_router_shard_map_version",
    help: "Shard map version this replica routes by",
    labelNames: ["database"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const map of maps.all()) this.set({ database: map.database }, map.version);
    },
  });
  new Gauge({
    name: "dbplane_router_shard_map_behind_seconds",
    help: "How long this replica has seen the shard map bucket hold a change it has not received (0 when current)",
    registers: [registry],
    collect() {
      this.set(maps.behindMs() / 1000);
    },
  });
  const resumes = new Counter({
    name: "dbplane_router_shard_map_watch_resumes_total",
    help: "Times the shard map watch re-subscribed: it fell behind the bucket (stalled) or its subscription ended",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  maps.onWatchResume((reason) => resumes.inc({ reason }));
  new Gauge({
    name: "dbplane_router_server_up",
    help: "1 if the last probe of a shard server succeeded, 0 if it failed (unknown servers are absent)",
    labelNames: ["database", "shard", "role", "server"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const map of maps.all()) {
        for (const shard of map.shards.values()) {
          const servers = [
            { role: "primary", pool: shard.primary },
            ...shard.replicas.map((pool) => ({ role: "replica", pool })),
          ];
          for (const { role, pool } of servers) {
            if (pool.health.status === "unknown") continue;
            const server = `${pool.address.host}:${pool.address.port}`;
            this.set(
              { database: map.database, shard: String(shard.index), role, server },
              pool.health.status === "up" ? 1 : 0,
            );
          }
        }
      }
    },
  });

  let wireEndpoint: Pick<WireEndpoint, "pools" | "planners"> | undefined;
  const clients = new Gauge({
    name: "dbplane_router_wire_client_connections",
    help: "Client connections open on the PostgreSQL wire endpoint, by database",
    labelNames: ["database"] as const,
    registers: [registry],
  });
  // Counted in a plain map and handed to the counter at scrape time: inc({ … }) hashes its labels
  // on every call (a labelled child too), and this runs once per statement.
  const routedCounts = new Map<string, Map<string, { database: string; route: string; count: number }>>();
  new Counter({
    name: "dbplane_router_wire_statements_total",
    help: "Statements planned on the wire endpoint, by database and route kind (keyed, scatter, broadcast, any, …)",
    labelNames: ["database", "route"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const byRoute of routedCounts.values())
        for (const { database, route, count } of byRoute.values()) this.inc({ database, route }, count);
    },
  });
  // Plain numbers too (one field increment per chunk or reply), handed over at scrape time.
  const paths = wirePathCounts();
  new Counter({
    name: "dbplane_router_wire_client_chunks_total",
    help: "Client chunks read on the wire endpoint, by path: prepared_batch (a prepared statement's Bind…Sync sent on whole), simple_shape (a Query routed by its shape), simple_query (a Query planned and sent on whole), message (framed, message by message)",
    labelNames: ["path"] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ path: "prepared_batch" }, paths.preparedBatch);
      this.inc({ path: "simple_shape" }, paths.simpleShape);
      this.inc({ path: "simple_query" }, paths.simpleQuery);
      this.inc({ path: "message" }, paths.message);
    },
  });
  new Counter({
    name: "dbplane_router_wire_server_replies_total",
    help: "Shard server replies (ending with ReadyForQuery) relayed to clients, by path: relayed_whole (the chunk read, written as it is), relayed_split (read as one chunk, written in pieces), message (framed, message by message)",
    labelNames: ["path"] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ path: "relayed_whole" }, paths.replyWhole);
      this.inc({ path: "relayed_split" }, paths.replySplit);
      this.inc({ path: "message" }, paths.replyMessage);
    },
  });
  new Gauge({
    name: "dbplane_router_wire_server_connections",
    help: "Wire endpoint connections to shard servers, by pool and state (in_use, idle) and clients waiting for one (waiting)",
    labelNames: ["pool", "shard", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { label, shard, stats } of wireEndpoint?.pools.stats() ?? []) {
        const labels = { pool: label, shard: String(shard) };
        this.set({ ...labels, state: "in_use" }, stats.inUse);
        this.set({ ...labels, state: "idle" }, stats.idle);
        this.set({ ...labels, state: "waiting" }, stats.waiting);
      }
    },
  });
  new Gauge({
    name: "dbplane_router_wire_plan_cache",
    help: "Statement plan cache lookups of the wire endpoint since start, by outcome (hit, miss)",
    labelNames: ["outcome"] as const,
    registers: [registry],
    collect() {
      const counts = wireEndpoint?.planners.cacheCounts() ?? { hits: 0, misses: 0 };
      this.set({ outcome: "hit" }, counts.hits);
      this.set({ outcome: "miss" }, counts.misses);
    },
  });

  const cache = new Map<string, ShardSeries>();
  const autoSplitDecisions = new Counter({
    name: "dbplane_router_autosplit_decisions_total",
    help: "What the autoSplit policy decided on a hot or big shard: split, off, cooldown, max-shards, busy, unknown",
    labelNames: ["decision"] as const,
    registers: [registry],
  });
  const reshardsEnded = new Counter({
    name: "dbplane_router_reshards_ended_total",
    help: "Reshards this replica ran to an end: completed, failed or cancelled",
    labelNames: ["state"] as const,
    registers: [registry],
  });
  // A plain number handed over at scrape time, as the wire statements: this may run per request.
  let sessionResets = 0;
  new Counter({
    name: "dbplane_router_http_session_resets_total",
    help: "Shard connections reset (DISCARD ALL) before going back to the pool, after HTTP API SQL that may have changed session state (SET, set_config, advisory locks, …); other statements skip the reset",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sessionResets);
    },
  });
  // Plain numbers counted per statement (prepared-statements.ts), handed over at scrape time.
  new Counter({
    name: "dbplane_router_http_prepared_statements_total",
    help: "HTTP API statements run as server-side prepared statements: parsed (prepared on a connection), reused (bound and executed only), retried (the server had lost it or DDL changed its result type; prepared again and run once more)",
    labelNames: ["outcome"] as const,
    registers: [registry],
    collect() {
      this.reset();
      if (prepared === undefined) return;
      this.inc({ outcome: "parsed" }, prepared.parsed);
      this.inc({ outcome: "reused" }, prepared.reused);
      this.inc({ outcome: "retried" }, prepared.retried);
    },
  });
  return {
    autoSplitDecisions,
    reshardsEnded,
    sessionReset: () => {
      sessionResets++;
    },
    wire: {
      paths,
      clientOpened: (database) => clients.inc({ database }),
      clientClosed: (database) => clients.dec({ database }),
      routed: (database, route) => {
        // By database, then route: both strings a session passes again and again, whose hashes
        // are cached — a key joined from them would be a new string to hash per statement.
        let byRoute = routedCounts.get(database);
        if (byRoute === undefined) {
          byRoute = new Map();
          routedCounts.set(database, byRoute);
        }
        const counted = byRoute.get(route);
        if (counted) counted.count++;
        else byRoute.set(route, { database, route, count: 1 });
      },
    },
    watchWire(endpoint) {
      wireEndpoint = endpoint;
    },
    series(database, shard) {
      const key = `${database}:${shard}`;
      let s = cache.get(key);
      if (!s) {
        const labels = { database, shard: String(shard) };
        const ok = queries.labels({ ...labels, outcome: "ok" });
        const failed = queries.labels({ ...labels, outcome: "error" });
        const hist = duration.series(labels);
        s = {
          observe(success, seconds) {
            (success ? ok : failed).inc();
            hist.observe(seconds);
          },
        };
        cache.set(key, s);
      }
      return s;
    },
    setWindow(loads) {
      for (const l of loads) {
        const labels = { database: l.database, shard: String(l.shard) };
        rate.set(labels, l.queryRate);
        errorRate.set(labels, l.errorRate);
        latency.set(labels, l.meanLatencyMs / 1000);
      }
    },
  };
}
