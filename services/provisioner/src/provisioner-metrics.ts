import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { DATABASE_STATES } from "./domain/states.ts";
import type { FailoverMetricOutcome } from "./failover/failover-watcher.ts";
import type { PassOutcome } from "./reconcile/reconcile-database.ts";
import type { Queries } from "./store/queries.ts";

/** The provisioner's own metrics, on the app's registry. */
export function createProvisionerMetrics(registry: Registry, queries: Queries) {
  const passes = new Counter({
    name: "dbplane_provisioner_reconcile_passes_total",
    help: "Reconcile passes by outcome",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "dbplane_provisioner_reconcile_pass_seconds",
    help: "Duration of reconcile passes",
    buckets: [0.01, 0.05, 0.25, 1, 5, 15, 60, 300],
    registers: [registry],
  });
  const published = new Counter({
    name: "dbplane_provisioner_events_published_total",
    help: "Events moved from the outbox to JetStream",
    registers: [registry],
  });
  const failovers = new Counter({
    name: "dbplane_provisioner_failovers_total",
    help: "Shard failovers by outcome: promoted, no-replica (a primary down with nothing to promote), failed (retried)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  new Gauge({
    name: "dbplane_provisioner_databases",
    help: "Databases by state",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const counts = new Map((await queries.counts()).map((c) => [c.state, c.count]));
      for (const state of DATABASE_STATES) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  return {
    pass(outcome: PassOutcome, seconds: number) {
      passes.inc({ outcome });
      duration.observe(seconds);
    },
    published: (count: number) => published.inc(count),
    failover: (outcome: FailoverMetricOutcome) => failovers.inc({ outcome }),
  };
}
