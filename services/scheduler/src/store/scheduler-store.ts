import type pg from "pg";
import type { JobDefinition } from "../domain/job-definition.ts";
import type { JobRetention } from "../domain/run-retention.ts";
import type { ClaimOptions, ClaimResult } from "./claims.ts";
import { claimDue, releaseClaims, renewClaims } from "./claims.ts";
import type { CompleteOptions, CompletionResult, OccurrenceResult } from "./completion.ts";
import { completeOccurrences } from "./completion.ts";
import type { ClaimedDelivery, DeliveryFinish, DeliveryRecord } from "./deliveries.ts";
import { claimDeliveries, finishDelivery, getDelivery } from "./deliveries.ts";
import type { EndedDelivery } from "./delivery-outbox.ts";
import { endedDelivery, markAnnounced, orphanedEndedDeliveries } from "./delivery-outbox.ts";
import { cancelJob, pauseJob, resumeJob, triggerJob } from "./job-commands.ts";
import type { ListJobsOptions, Page } from "./job-queries.ts";
import { getJob, listJobs } from "./job-queries.ts";
import type { StoredJob } from "./job-rows.ts";
import type { UpsertOptions, UpsertResult } from "./job-upsert.ts";
import { upsertJob, upsertJobs } from "./job-upsert.ts";
import { migrate } from "./migrations.ts";
import type { ReplicaBeat, ReplicaRecord } from "./replicas.ts";
import { beat, forgetReplica, listReplicas } from "./replicas.ts";
import type { ListAllRunsOptions, RunOutcome, RunRecord } from "./run-records.ts";
import {
  jobRetentions,
  jobsOverRunCount,
  listAllRuns,
  listRuns,
  pruneJobRuns,
  pruneJobRunsBefore,
  pruneRuns,
} from "./run-records.ts";
import type { SchedulerStats } from "./scheduler-stats.ts";
import { schedulerStats } from "./scheduler-stats.ts";
import { schedulerTables } from "./schema-tables.ts";
import { type StoreContext, storeContext } from "./store-context.ts";

/**
 * The scheduler's PostgreSQL store. Every time it uses is the database's (`now()`), never the
 * pod's: due-ness, leases and next occurrences agree across replicas whatever their clocks.
 */
export interface SchedulerStore {
  readonly schema: string;
  /** Applies pending migrations (see `migrate`). */
  migrate(): Promise<number[]>;

  /** Creates or replaces a job (see `upsertJob`), recording its owner. */
  upsert(job: JobDefinition, options?: UpsertOptions): Promise<UpsertResult>;
  /** Creates or replaces up to 1,000 jobs in one transaction (see `upsertJobs`); results in input order. */
  upsertMany(jobs: readonly JobDefinition[], options?: UpsertOptions): Promise<UpsertResult[]>;
  get(id: string): Promise<StoredJob | null>;
  list(options?: ListJobsOptions): Promise<Page<StoredJob>>;
  cancel(id: string): Promise<StoredJob | null>;
  pause(id: string): Promise<StoredJob | null>;
  resume(id: string): Promise<StoredJob | null>;
  trigger(id: string): Promise<{ job: StoredJob; scheduledAt: Date } | null>;
  listRuns(
    jobId: string,
    options?: { limit?: number; cursor?: string; outcome?: RunOutcome },
  ): Promise<Page<RunRecord>>;
  /** Runs of every job, newest recorded first. */
  listAllRuns(options?: ListAllRunsOptions): Promise<Page<RunRecord>>;
  /**
   * Deletes up to `limit` runs recorded before `before` of jobs without a retention of their own;
   * call until it returns less. No pruning deletes a run whose delivery is open or unannounced.
   */
  pruneRuns(before: Date, limit?: number): Promise<number>;
  /** Deletes up to `limit` of one job's runs recorded before `before`. */
  pruneJobRunsBefore(jobId: string, before: Date, limit?: number): Promise<number>;
  /**
   * A page of `jobs` jobs without a retention of their own after `afterId` (id order), each with
   * whether it has more than `keep` runs.
   */
  jobsOverRunCount(keep: number, afterId: string, jobs: number): Promise<{ jobId: string; over: boolean }[]>;
  /** A page of `jobs` jobs with a retention of their own after `afterId` (id order). */
  jobRetentions(afterId: string, jobs: number): Promise<{ jobId: string; retention: JobRetention }[]>;
  /** Deletes up to `limit` of a job's oldest runs beyond its `keep` newest; call until it returns 0. */
  pruneJobRuns(jobId: string, keep: number, limit?: number): Promise<number>;

  claimDue(owner: string, options: ClaimOptions): Promise<ClaimResult>;
  complete(
    owner: string,
    results: readonly OccurrenceResult[],
    options: CompleteOptions,
  ): Promise<CompletionResult>;
  renewClaims(owner: string, leaseMs: number, jobIds?: readonly string[]): Promise<string[]>;
  releaseClaims(owner: string, jobIds?: readonly string[]): Promise<number>;
  stats(): Promise<SchedulerStats>;

  /** Claims due webhook deliveries and starts an attempt of each (see `claimDeliveries`). */
  claimDeliveries(owner: string, limit: number, leaseMarginMs: number): Promise<ClaimedDelivery[]>;
  /** Records an attempt's result and the delivery's state; false when this owner no longer holds it. */
  finishDelivery(owner: string, finish: DeliveryFinish): Promise<boolean>;
  /** One occurrence's webhook delivery with its attempts. */
  getDelivery(jobId: string, scheduledAt: Date): Promise<DeliveryRecord | null>;
  /** The delivery if it ended and its event is not yet published. */
  endedDelivery(jobId: string, scheduledAt: Date): Promise<EndedDelivery | null>;
  /** Ended deliveries still not announced `graceMs` after they ended (their replica died). */
  orphanedEndedDeliveries(graceMs: number, limit: number): Promise<EndedDelivery[]>;
  /** Records that a delivery's end event was published. */
  markAnnounced(jobId: string, scheduledAt: Date): Promise<void>;

  /** Records this replica's heartbeat; it stays listed for `leaseMs` unless it beats again. */
  beat(owner: string, leaseMs: number, beat: ReplicaBeat): Promise<void>;
  forgetReplica(owner: string): Promise<void>;
  listReplicas(): Promise<ReplicaRecord[]>;
}

/** Binds the store to a pool and a schema (default `scheduler`; tests pass their own). */
export function createSchedulerStore(pool: pg.Pool, options: { schema?: string } = {}): SchedulerStore {
  const ctx: StoreContext = storeContext(pool, schedulerTables(options.schema));
  return {
    schema: ctx.t.schema,
    migrate: () => migrate(pool, ctx.t.schema),
    upsert: (job, o) => upsertJob(ctx, job, o),
    upsertMany: (jobs, o) => upsertJobs(ctx, jobs, o),
    get: (id) => getJob(ctx, id),
    list: (o) => listJobs(ctx, o),
    cancel: (id) => cancelJob(ctx, id),
    pause: (id) => pauseJob(ctx, id),
    resume: (id) => resumeJob(ctx, id),
    trigger: (id) => triggerJob(ctx, id),
    listRuns: (jobId, o) => listRuns(ctx, jobId, o),
    listAllRuns: (o) => listAllRuns(ctx, o),
    pruneRuns: (before, limit) => pruneRuns(ctx, before, limit),
    pruneJobRunsBefore: (jobId, before, limit) => pruneJobRunsBefore(ctx, jobId, before, limit),
    jobsOverRunCount: (keep, afterId, jobs) => jobsOverRunCount(ctx, keep, afterId, jobs),
    jobRetentions: (afterId, jobs) => jobRetentions(ctx, afterId, jobs),
    pruneJobRuns: (jobId, keep, limit) => pruneJobRuns(ctx, jobId, keep, limit),
    claimDue: (owner, o) => claimDue(ctx, owner, o),
    complete: (owner, results, o) => completeOccurrences(ctx, owner, results, o),
    renewClaims: (owner, leaseMs, ids) => renewClaims(ctx, owner, leaseMs, ids),
    releaseClaims: (owner, ids) => releaseClaims(ctx, owner, ids),
    stats: () => schedulerStats(ctx),
    claimDeliveries: (owner, limit, margin) => claimDeliveries(ctx, owner, limit, margin),
    finishDelivery: (owner, f) => finishDelivery(ctx, owner, f),
    getDelivery: (jobId, at) => getDelivery(ctx, jobId, at),
    endedDelivery: (jobId, at) => endedDelivery(ctx, jobId, at),
    orphanedEndedDeliveries: (graceMs, limit) => orphanedEndedDeliveries(ctx, graceMs, limit),
    markAnnounced: (jobId, at) => markAnnounced(ctx, jobId, at),
    beat: (owner, leaseMs, b) => beat(ctx, owner, leaseMs, b),
    forgetReplica: (owner) => forgetReplica(ctx, owner),
    listReplicas: () => listReplicas(ctx),
  };
}
