import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The collector's own metrics (per-target series are in collection/target-metrics.ts). */
export interface CollectorMetrics {
  readonly leader: Gauge;
  readonly assignments: Gauge;
  readonly epoch: Gauge;
  readonly rebalances: Counter;
  readonly collectionDuration: Histogram<"db_system" | "outcome">;
  readonly skipped: Counter<"reason">;
}

/** `liveMembers` is read at scrape time, so every replica reports the group's size as Redis sees it. */
export function createCollectorMetrics(
  registry: Registry,
  liveMembers: () => Promise<number>,
): CollectorMetrics {
  new Gauge({
    name: "dbplane_collector_members",
    help: "Members with a heartbeat within the node timeout",
    registers: [registry],
    async collect() {
      this.set(await liveMembers().catch(() => Number.NaN));
    },
  });
  return {
    leader: new Gauge({
      name: "dbplane_collector_leader",
      help: "1 while this member holds the leader lease",
      registers: [registry],
    }),
    assignments: new Gauge({
      name: "dbplane_collector_assigned_targets",
      help: "Targets assigned to this member in the newest epoch",
      registers: [registry],
    }),
    epoch: new Gauge({
      name: "dbplane_collector_epoch",
      help: "Epoch of the assignment this member acts on",
      registers: [registry],
    }),
    rebalances: new Counter({
      name: "dbplane_collector_rebalances_total",
      help: "Assignments written by this member as leader",
      registers: [registry],
    }),
    collectionDuration: new Histogram({
      name: "dbplane_collector_collection_duration_seconds",
      help: "Wall time of one collection from one target",
      labelNames: ["db_system", "outcome"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    skipped: new Counter({
      name: "dbplane_collector_collections_skipped_total",
      help: "Collections not started on time (previous one still running, or no free slot)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
  };
}
