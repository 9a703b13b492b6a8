import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The projection metrics of one replica; the lag gauges feed the HPA. */
export interface ProjectionMetrics {
  readonly processed: Counter<"projection" | "outcome">;
  /** Parked events by why: handler-failed, unreadable, untrusted-source (PARK_REASONS). */
  readonly parked: Counter<"projection" | "reason">;
  readonly rebalances: Counter;
  readonly unitMoves: Counter<"projection" | "direction">;
  readonly batchSeconds: Histogram<"projection">;
  readonly lagEvents: Gauge<"projection" | "generation">;
  readonly lagSeconds: Gauge<"projection" | "generation">;
  readonly ownedUnits: Gauge<"projection" | "generation">;
  /** How long this replica's warm-up took before it joined, by phase (`WarmUpTimes`). */
  readonly warmUpSeconds: Gauge<"phase">;
  /** Stream readers (ordered consumers) started: `prefetch` before joining, `acquired`, `restart`. */
  readonly readerStarts: Counter<"projection" | "purpose">;
  /** How long units went on applying to reach the next owner's read-ahead before their release. */
  readonly handOverHolds: Histogram<"projection" | "outcome">;
}

/** Lag and ownership of the units a replica runs, read when Prometheus scrapes. */
export interface LagSample {
  readonly projection: string;
  readonly generation: number;
  readonly partition: number;
  readonly lagEvents: number;
  readonly lagSeconds: number;
}

export function createProjectionMetrics(
  registry: Registry,
  sample: () => readonly LagSample[],
): ProjectionMetrics {
  const labelNames = ["projection", "generation"] as const;
  const byGeneration = (pick: (s: LagSample) => number, combine: (a: number, b: number) => number) =>
    function (this: Gauge<"projection" | "generation">) {
      this.reset();
      const totals = new Map<
        string,
        { projection: string; generation: string; value: number; units: number }
      >();
      for (const s of sample()) {
        const key = `${s.projection}/${s.generation}`;
        const t = totals.get(key) ?? {
          projection: s.projection,
          generation: String(s.generation),
          value: 0,
          units: 0,
        };
        t.value = combine(t.value, pick(s));
        t.units++;
        totals.set(key, t);
      }
      for (const t of totals.values())
        this.set({ projection: t.projection, generation: t.generation }, t.value);
    };
  return {
    processed: new Counter({
      name: "dbplane_projection_events_processed_total",
      help: "Events applied to read models or parked, by projection",
      labelNames: ["projection", "outcome"],
      registers: [registry],
    }),
    parked: new Counter({
      name: "dbplane_projection_events_parked_total",
      help: "Events parked instead of applied, by projection and reason (handler-failed, unreadable, untrusted-source)",
      labelNames: ["projection", "reason"],
      registers: [registry],
    }),
    rebalances: new Counter({
      name: "dbplane_projection_rebalances_total",
      help: "Membership changes this replica saw (each may move units)",
      registers: [registry],
    }),
    unitMoves: new Counter({
      name: "dbplane_projection_unit_moves_total",
      help: "Units this replica acquired, released, or lost to fencing",
      labelNames: ["projection", "direction"],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: "dbplane_projection_batch_seconds",
      help: "Duration of one unit transaction (handlers plus checkpoint)",
      labelNames: ["projection"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    lagEvents: new Gauge({
      name: "dbplane_projection_lag_events",
      help: "Events read or still in the stream that this replica's units have not applied yet",
      labelNames,
      registers: [registry],
      collect: byGeneration(
        (s) => s.lagEvents,
        (a, b) => a + b,
      ),
    }),
    lagSeconds: new Gauge({
      name: "dbplane_projection_lag_seconds",
      help: "Age of the oldest event this replica's units have not applied yet",
      labelNames,
      registers: [registry],
      collect: byGeneration((s) => s.lagSeconds, Math.max),
    }),
    ownedUnits: new Gauge({
      name: "dbplane_projection_owned_units",
      help: "Units this replica owns",
      labelNames,
      registers: [registry],
      collect: byGeneration(
        () => 1,
        (a, b) => a + b,
      ),
    }),
    warmUpSeconds: new Gauge({
      name: "dbplane_projection_warm_up_seconds",
      help: "Time this replica spent warming up before it joined (connections, stream, handlers, total; settle: waiting for a calm event loop after it)",
      labelNames: ["phase"],
      registers: [registry],
    }),
    readerStarts: new Counter({
      name: "dbplane_projection_stream_readers_started_total",
      help: "Stream readers (ordered consumers) started, by purpose: prefetch (before joining, for the units expected), acquired (for units acquired), restart",
      labelNames: ["projection", "purpose"],
      registers: [registry],
    }),
    handOverHolds: new Histogram({
      name: "dbplane_projection_hand_over_hold_seconds",
      help: "How long a unit that should move went on applying to reach the next owner's read-ahead start before its release, by outcome: reached, expired (released where it got to), cancelled (stayed, or stopped); released at once (0 s): overtaken (already at or past the start), far (too far below it), unforeseen (the next owner reads no read-ahead for it)",
      labelNames: ["projection", "outcome"],
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 5],
      registers: [registry],
    }),
  };
}
