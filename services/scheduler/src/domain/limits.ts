/**
 * Policy values of the scheduler, named so that a reader can find why each one is what it is.
 */
export const JobLimits = {
  /**
   * Caller-chosen job ids (contracts' `identifier`): enough for `<service>.<purpose>.<uuid>` and
   * safe in a URL path. No `:` — the occurrence id is `<jobId>:<scheduledAt>` and must split back
   * unambiguously at its first `:`.
   */
  idPattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
  /**
   * The shortest interval. Every occurrence costs a publish and a row in `runs`; below a second a
   * job is a stream, not a schedule. Cron's finest field (seconds) has the same resolution.
   */
  minEveryMs: 1_000,
  /** The longest interval (a leap year): longer periods read better as cron or `at`. */
  maxEveryMs: 366 * 24 * 3_600_000,
  /**
   * Default `maxLatenessMs`. It must exceed the claim lease (15 s by default) plus one claim
   * cycle, so that occurrences held by a crashed replica are still fired, late, by the survivor.
   */
  defaultMaxLatenessMs: 60_000,
  /** Below a second, ordinary jitter (GC, a slow claim) would turn healthy occurrences into misses. */
  minMaxLatenessMs: 1_000,
  /** A week: later than that an occurrence is history, not work. */
  maxMaxLatenessMs: 7 * 24 * 3_600_000,
  /**
   * `misfire: "all"` fires at most this many overdue occurrences after an outage (the most
   * recent ones); older ones are recorded as missed. Without a cap an every-second job after a
   * day's outage would publish 86,400 messages in a burst.
   */
  misfireAllCap: 100,
  /**
   * Missed occurrences recorded one row each per resolution (the most recent ones); the total is
   * still counted on the job. Bounds the write after a long outage of a frequent job.
   */
  missedDetailLimit: 100,
  /**
   * How many cron occurrences a misfire resolution walks to count the missed ones: croner takes
   * ~50 µs a step, so this bounds one resolution to ~50 ms of event loop. Beyond it the count is
   * a lower bound (cron has no closed form; intervals are counted exactly).
   */
  misfireScanLimit: 1_000,
  /** A payload is a message, not a file: NATS' default max_payload is 1 MiB; stay well below. */
  maxPayloadBytes: 64 * 1024,
  maxHeaders: 32,
  maxHeaderValueLength: 4_096,
  /** NATS has no hard subject limit; long subjects cost on every message and in every index. */
  maxSubjectLength: 255,
} as const;

/** What happens to occurrences that were due more than `maxLatenessMs` ago (the scheduler was down). */
export const MisfirePolicy = {
  /** Record every overdue occurrence as missed; carry on with the next one. */
  skip: "skip",
  /** Fire the most recent overdue occurrence once; record the earlier ones as missed. */
  once: "once",
  /** Fire every overdue occurrence, up to `JobLimits.misfireAllCap` (the most recent ones). */
  all: "all",
} as const;
export type MisfirePolicy = (typeof MisfirePolicy)[keyof typeof MisfirePolicy];

/** What a job does when it fires. */
export const TargetKind = {
  /** Publish a NATS message, exactly once (JetStream deduplicates by the occurrence id). */
  nats: "nats",
  /** Call an HTTP endpoint, at least once, from the delivery worker. */
  http: "http",
} as const;
export type TargetKind = (typeof TargetKind)[keyof typeof TargetKind];

/** What a webhook occurrence does while the job's previous delivery is still pending or running. */
export const OverlapPolicy = {
  /** Record the new delivery as skipped. */
  skip: "skip",
  /** Keep at most one waiting; it starts when the previous one ends; further ones are skipped. */
  bufferOne: "buffer_one",
  /** Deliver concurrently. */
  allowAll: "allow_all",
} as const;
export type OverlapPolicy = (typeof OverlapPolicy)[keyof typeof OverlapPolicy];

/** Webhook targets' limits and retry policy. */
export const WebhookLimits = {
  defaultTimeoutMs: 10_000,
  /** A minimum that still lets a TLS handshake complete on a slow link. */
  minTimeoutMs: 100,
  /** Five minutes: longer work should answer 202 and go on asynchronously. */
  maxTimeoutMs: 300_000,
  defaultMaxAttempts: 5,
  maxAttempts: 20,
  maxUrlLength: 2_048,
  /** Full-jitter exponential backoff: attempt n waits random(0, min(cap, base × 2^(n-1))). */
  backoffBaseMs: 1_000,
  backoffCapMs: 60_000,
} as const;
