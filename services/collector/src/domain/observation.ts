import type { SeriesValue } from "./metric-catalog.ts";

/** The engines the collector has receivers for (the `db_system` label and the events' `engine`). */
export const ENGINES = ["postgresql", "mysql", "redis", "mongodb"] as const;
export type Engine = (typeof ENGINES)[number];

/** Replication as a receiver sees it on the server it probes. */
export interface ReplicationView {
  readonly role: "primary" | "replica" | "standalone";
  readonly lagSeconds?: number;
  readonly lagBytes?: number;
  /** Things wrong with replication beyond lag (a stopped IO thread, a broken link). */
  readonly problems: readonly string[];
}

/**
 * What one successful collection saw. `gauges` are exported as they are; `counters` are
 * cumulative and become increases and rates against the previous collection. `rateGroups` say
 * which counters (by series key) add up to the engine-neutral load figures.
 */
export interface Observation {
  readonly gauges: readonly SeriesValue[];
  readonly counters: readonly SeriesValue[];
  /** Changes when the server's counters restart (server start time, stats reset). */
  readonly resetMarker?: string | number;
  readonly connections: { readonly used: number; readonly max?: number; readonly database?: number };
  readonly replication: ReplicationView;
  readonly memory?: { readonly used: number; readonly max: number };
  readonly sizeBytes?: number;
  readonly rateGroups: {
    readonly transactions?: readonly string[];
    readonly tuples?: readonly string[];
    readonly operations?: readonly string[];
  };
}
