import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** What the write fence counts; `noFenceMetrics` where nothing is exported (a test's coordinator). */
export interface FenceMetrics {
  /** A write had to wait for a fence (or for this replica's lease). */
  held(database: string): void;
  /** How a held write ended: admitted, or given up (timeout, aborted). */
  released(database: string, outcome: "admitted" | "timeout" | "aborted", seconds: number): void;
  /** A raise ended: every live replica acknowledged, or not in time. */
  raised(outcome: "acknowledged" | "timeout", seconds: number): void;
  /** Reports the fences this replica follows from now on. */
  follow(fences: {
    known(): readonly { database: string; state: string }[];
    readonly admitting: boolean;
  }): void;
}

export const noFenceMetrics: FenceMetrics = { held() {}, released() {}, raised() {}, follow() {} };

/** `dbplane_router_fence_*` on the app's registry. */
export function createFenceMetrics(registry: Registry): FenceMetrics {
  const held = new Counter({
    name: "dbplane_router_fence_writes_held_total",
    help: "Writes this replica held for a write fence (or its own lapsed lease), by database",
    labelNames: ["database"] as const,
    registers: [registry],
  });
  const holdSeconds = new Histogram({
    name: "dbplane_router_fence_hold_seconds",
    help: "How long held writes waited, by outcome (admitted, timeout, aborted)",
    labelNames: ["database", "outcome"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const raised = new Counter({
    name: "dbplane_router_fences_raised_total",
    help: "Fences raised by this replica's coordinator, by outcome (acknowledged, timeout)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const ackSeconds = new Histogram({
    name: "dbplane_router_fence_ack_seconds",
    help: "From raising a fence to the last live replica's acknowledgement (or the timeout)",
    labelNames: ["outcome"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  let followed: Parameters<FenceMetrics["follow"]>[0] | undefined;
  new Gauge({
    name: "dbplane_router_fences",
    help: "Write fences this replica follows, by database and state (raised; lifted: still gating writes planned by a map older than the lift's)",
    labelNames: ["database", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { database, state } of followed?.known() ?? []) this.inc({ database, state });
    },
  });
  new Gauge({
    name: "dbplane_router_fence_admitting",
    help: "1 while this replica admits writes (its heartbeat lease is fresh), 0 while it holds them all",
    registers: [registry],
    collect() {
      this.set(followed?.admitting ? 1 : 0);
    },
  });
  return {
    follow(fences) {
      followed = fences;
    },
    held: (database) => held.inc({ database }),
    released: (database, outcome, seconds) => holdSeconds.observe({ database, outcome }, seconds),
    raised(outcome, seconds) {
      raised.inc({ outcome });
      ackSeconds.observe({ outcome }, seconds);
    },
  };
}
