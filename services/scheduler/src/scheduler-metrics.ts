import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { JobState } from "./store/job-rows.ts";
import type { SchedulerStore } from "./store/scheduler-store.ts";

/** The scheduler's own Prometheus metrics (the bus and HTTP ones come from their packages). */
export interface SchedulerMetrics {
  readonly firingLag: Histogram<"manual">;
  readonly claimLead: Histogram<"manual">;
  readonly timerLateness: Histogram<"manual">;
  readonly claims: Counter;
  readonly fired: Counter<"manual">;
  readonly missed: Counter;
  readonly publishFailures: Counter<"kind">;
  readonly deduplicated: Counter;
  readonly runsPruned: Counter<"reason">;
  readonly webhookAttempts: Counter<"outcome">;
  readonly webhookAttemptDuration: Histogram<"outcome">;
  readonly webhookDeliveries: Counter<"state">;
  readonly webhookDeliverySeconds: Histogram<"state">;
}

/** Seconds late: the firing lag and the timer lateness share them, so the two compare bucket by bucket. */
const LATENESS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Registers the metrics. The backlog and per-state gauges are read from PostgreSQL at scrape
 * time (`store.stats()`), so every replica reports the same fleet-wide backlog — which is what
 * the HPA averages over.
 */
export function createSchedulerMetrics(registry: Registry, store: SchedulerStore): SchedulerMetrics {
  let stats: ReturnType<SchedulerStore["stats"]> | undefined;
  // Both gauges collect in one scrape; share one query round.
  const readStats = () => {
    stats ??= store.stats().finally(() => {
      setTimeout(() => {
        stats = undefined;
      }, 1_000).unref();
    });
    return stats;
  };
  new Gauge({
    name: "dbplane_scheduler_due_backlog",
    help: "Occurrences due by the database's clock and not yet settled (fired, missed or failed)",
    registers: [registry],
    async collect() {
      this.set((await readStats()).dueBacklog);
    },
  });
  new Gauge({
    name: "dbplane_scheduler_jobs",
    help: "Jobs by state",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      const byState = (await readStats()).jobsByState;
      for (const state of Object.values(JobState)) this.set({ state }, byState[state] ?? 0);
    },
  });
  return {
    firingLag: new Histogram({
      name: "dbplane_scheduler_firing_lag_seconds",
      help: "Publish acknowledged minus scheduled time, by the database's clock",
      labelNames: ["manual"] as const,
      buckets: LATENESS_BUCKETS,
      registers: [registry],
    }),
    // Firing lag split in two: an occurrence claimed after its due time was late because of the
    // claim (PostgreSQL, a slow claim round); one claimed ahead whose timer ran late was late
    // because of this process (event loop busy or starved of CPU). What the lag adds beyond the
    // timer's lateness is the publish's round trip.
    claimLead: new Histogram({
      name: "dbplane_scheduler_claim_lead_seconds",
      help: "Scheduled time minus the time its occurrence was armed (claimed), by the database's clock; 0 or less: claimed late",
      labelNames: ["manual"] as const,
      buckets: [-10, -1, -0.25, -0.1, -0.025, 0, 0.025, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
    timerLateness: new Histogram({
      name: "dbplane_scheduler_timer_lateness_seconds",
      help: "Time an occurrence's publish (or webhook hand-over) started minus its scheduled time, by the database's clock",
      labelNames: ["manual"] as const,
      buckets: LATENESS_BUCKETS,
      registers: [registry],
    }),
    claims: new Counter({
      name: "dbplane_scheduler_claims_total",
      help: "Jobs claimed by this replica",
      registers: [registry],
    }),
    fired: new Counter({
      name: "dbplane_scheduler_fired_total",
      help: "Occurrences published by this replica",
      labelNames: ["manual"] as const,
      registers: [registry],
    }),
    missed: new Counter({
      name: "dbplane_scheduler_missed_total",
      help: "Occurrences recorded as missed by this replica (misfire policy or maxLatenessMs)",
      registers: [registry],
    }),
    publishFailures: new Counter({
      name: "dbplane_scheduler_publish_failures_total",
      help: "Target publish attempts that failed (transient: retried; permanent: recorded as failed)",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    deduplicated: new Counter({
      name: "dbplane_scheduler_publish_deduplicated_total",
      help: "Occurrences the target stream already held (same Nats-Msg-Id: re-fired after a takeover or a lost ack); recorded with the stored message's sequence, not stored twice",
      registers: [registry],
    }),
    runsPruned: new Counter({
      name: "dbplane_scheduler_runs_pruned_total",
      help: "Runs deleted by this replica to keep history within DBPLANE_SCHEDULER_RUN_RETENTION, by reason (age, count)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    webhookAttempts: new Counter({
      name: "dbplane_scheduler_webhook_attempts_total",
      help: "Webhook attempts made by this replica, by outcome (success, client_error, retryable_status, timeout, network_error, refused)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    webhookAttemptDuration: new Histogram({
      name: "dbplane_scheduler_webhook_attempt_duration_seconds",
      help: "Duration of webhook attempts made by this replica, to the response's status line or the failure, by outcome",
      labelNames: ["outcome"] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: "dbplane_scheduler_webhook_deliveries_total",
      help: "Webhook deliveries this replica ended, by final state (succeeded, failed)",
      labelNames: ["state"] as const,
      registers: [registry],
    }),
    webhookDeliverySeconds: new Histogram({
      name: "dbplane_scheduler_webhook_delivery_seconds",
      help: "From an occurrence's scheduled time to the end of its webhook delivery (all attempts and backoffs), by final state",
      labelNames: ["state"] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3_600],
      registers: [registry],
    }),
  };
}
