import { Counter, Gauge, type Registry } from "prom-client";
import type { Inventory } from "./domain/inventory-types.ts";

/** Discovery's own metrics, on the app's registry. */
export function createDiscoveryMetrics(
  registry: Registry,
  watched: () => Record<string, number>,
  inventory: () => Inventory,
) {
  new Gauge({
    name: "dbplane_discovery_objects_watched",
    help: "Objects held by the watches, by kind (Kubernetes) or servers listed (local)",
    labelNames: ["kind"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, count] of Object.entries(watched())) this.set({ kind }, count);
    },
  });
  new Gauge({
    name: "dbplane_discovery_databases",
    help: "PostgreSQL servers or databases found",
    registers: [registry],
    collect() {
      this.set(inventory().databases.length);
    },
  });
  new Gauge({
    name: "dbplane_discovery_apps",
    help: "Applications found that use a database",
    registers: [registry],
    collect() {
      this.set(inventory().apps.length);
    },
  });
  const restarts = new Counter({
    name: "dbplane_discovery_watch_restarts_total",
    help: "Watches restarted: relist after 410 Gone (reason=relist) or after an error (reason=error)",
    labelNames: ["kind", "reason"],
    registers: [registry],
  });
  const published = new Counter({
    name: "dbplane_discovery_events_published_total",
    help: "Discovery events this replica published (a fact is published by one replica only)",
    labelNames: ["type"],
    registers: [registry],
  });
  const pruned = new Counter({
    name: "dbplane_discovery_facts_pruned_total",
    help: "Lost facts this replica removed from the fact bucket after DBPLANE_DISCOVERY_LOST_RETENTION_MS",
    registers: [registry],
  });
  return {
    pruned: (count: number) => pruned.inc(count),
    watchRestarted: (kind: string, reason: string) => restarts.inc({ kind, reason }),
    published: (kind: string, type: string) => published.inc({ type: `${kind}.${type}` }),
  };
}
