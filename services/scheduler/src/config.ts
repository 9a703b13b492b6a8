import { TOPOLOGY_DEFAULTS } from "@dbplane/bus";
import { authEnv, baseEnv, configLoader, envVar, postgresEnv } from "@dbplane/service-kit";
import { z } from "zod";
import { parseRunRetention, type RunRetention } from "./domain/run-retention.ts";
import { parseWebhookAllowList, type WebhookAllowList } from "./domain/webhook-allow-list.ts";

/**
 * The scheduler's environment. The firing knobs have defaults that suit a few replicas and tens
 * of thousands of jobs; tests shorten the lease to exercise take-over quickly.
 */
export const configSchema = z
  .object({
    ...baseEnv,
    ...authEnv,
    ...postgresEnv,
    DBPLANE_SCHEDULER_SCHEMA: envVar
      .identifier()
      .default("scheduler")
      .describe("PostgreSQL schema the scheduler owns in the platform database."),
    DBPLANE_SCHEDULER_TICK_MS: envVar
      .ms(10, 60_000)
      .default(250)
      .describe("How often each replica claims due work."),
    DBPLANE_SCHEDULER_HORIZON_MS: envVar
      .ms(100, 300_000)
      .default(2_000)
      .describe("How far ahead a claim reaches: timers are armed this long before the due time."),
    DBPLANE_SCHEDULER_LEASE_MS: envVar
      .ms(1_000, 3_600_000)
      .default(15_000)
      .describe("How long a claim lasts unless renewed: a dead replica's jobs return after this."),
    DBPLANE_SCHEDULER_CLAIM_LIMIT: envVar
      .int(1, 100_000)
      .default(2_000)
      .describe("Most jobs claimed per query (a tick repeats the claim while it comes back full)."),
    // A burst is bound by this over the ack latency: 50,000 due together fired at ~27,000/s with
    // 1,024, ~30,000–33,000/s with 8,192–16,384 (bench scheduler, when each publish was a nats.js
    // request); each one in flight holds a few hundred bytes.
    DBPLANE_SCHEDULER_PUBLISH_CONCURRENCY: envVar
      .int(1, 100_000)
      .default(16_384)
      .describe("Target publishes awaiting their ack at once, per replica."),
    DBPLANE_SCHEDULER_FIRING_THREAD: z
      .stringbool()
      .default(true)
      .describe(
        "Publish NATS targets from a worker thread with a NATS connection of its own, so that nothing else the replica does delays a due publish.",
      ),
    DBPLANE_SCHEDULER_MAIN_THREAD_NICE: envVar
      .int(0, 19)
      .default(10)
      .describe(
        "With the firing thread, the main thread's nice value (claims, records, events, HTTP): under CPU pressure the firing thread, NATS and PostgreSQL go first. 0 leaves it as it is.",
      ),
    DBPLANE_SCHEDULER_STATEMENT_TIMEOUT_MS: envVar
      .ms(1_000, 3_600_000)
      .default(30_000)
      .describe(
        "statement_timeout of the replica's PostgreSQL connections (lock_timeout: the lesser of this and 10 s).",
      ),
    DBPLANE_SCHEDULER_RUN_RETENTION: z
      .string()
      .transform((text, ctx): RunRetention => {
        const parsed = parseRunRetention(text);
        if (typeof parsed !== "string") return parsed;
        ctx.addIssue({ code: "custom", message: parsed });
        return z.NEVER;
      })
      .prefault("count=1000,age=30d")
      .describe(
        "Run history kept: `count=<n>` newest runs per job and/or `age=<n>{m|h|d}` (at least 10m), comma-separated, or `off`.",
      ),
    DBPLANE_SCHEDULER_RUN_PRUNE_INTERVAL_MS: envVar
      .ms(1_000, 3_600_000)
      .default(60_000)
      .describe(
        "How often each replica prunes run history down to the retention (in batches of 1,000 rows).",
      ),
    DBPLANE_SCHEDULER_WEBHOOK_ALLOW: z
      .string()
      .transform((text, ctx): WebhookAllowList => {
        const parsed = parseWebhookAllowList(text);
        if (typeof parsed !== "string") return parsed;
        ctx.addIssue({ code: "custom", message: parsed });
        return z.NEVER;
      })
      .prefault("")
      .describe(
        "Webhook destinations allowed besides public addresses: comma-separated `host`, `host:port`, `*.suffix` or CIDR (a bare IP is its /32); loopback, private and link-local addresses are refused unless listed.",
      ),
    DBPLANE_SCHEDULER_WEBHOOK_CONCURRENCY: envVar
      .int(1, 10_000)
      .default(64)
      .describe("Webhook attempts in flight at once, per replica."),
    DBPLANE_SCHEDULER_MAX_JOBS_PER_OWNER: envVar
      .int(1, 10_000_000)
      .default(1_000)
      .describe(
        "Most active or paused jobs one owner (a token's subject) without the `admin` scope may have.",
      ),
    DBPLANE_PG_POOL_SIZE: envVar.int(2, 200).default(10).describe("PostgreSQL connections per replica."),
  })
  .superRefine((env, ctx) => {
    // A replica that re-fires a dead one's occurrence does so at most a lease (plus a tick)
    // after the original publish; JetStream must still remember the msg id by then.
    if (
      env.DBPLANE_SCHEDULER_LEASE_MS + env.DBPLANE_SCHEDULER_TICK_MS >=
      TOPOLOGY_DEFAULTS.duplicateWindowMs
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["DBPLANE_SCHEDULER_LEASE_MS"],
        message: `lease plus tick must be shorter than the bus duplicate window (${TOPOLOGY_DEFAULTS.duplicateWindowMs} ms)`,
      });
    }
    if (env.DBPLANE_SCHEDULER_HORIZON_MS <= env.DBPLANE_SCHEDULER_TICK_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["DBPLANE_SCHEDULER_HORIZON_MS"],
        message: "must be longer than DBPLANE_SCHEDULER_TICK_MS, or occurrences are claimed late",
      });
    }
    if (env.DBPLANE_SCHEDULER_LEASE_MS <= env.DBPLANE_SCHEDULER_HORIZON_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["DBPLANE_SCHEDULER_LEASE_MS"],
        message:
          "must be longer than DBPLANE_SCHEDULER_HORIZON_MS: a claim must outlive the wait for its due time",
      });
    }
  });

/** Parses the environment once; exits 78 listing every problem. */
export const loadSchedulerConfig = configLoader(configSchema);
export type SchedulerConfig = ReturnType<typeof loadSchedulerConfig>;
