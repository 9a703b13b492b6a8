import { inTransaction } from "@dbplane/service-kit";
import { TargetKind } from "../domain/limits.ts";
import { nextOccurrence } from "../domain/occurrences.ts";
import { type KnownDefinition, lockHeld } from "./claims.ts";
import { type NewDelivery, queueDeliveries } from "./delivery-queue.ts";
import type { ClaimedJob, JobProgress, MissedOccurrences } from "./job-progress.ts";
import { claimedJobOf, decideClaim, progressOf, settleMisfire, writeProgress } from "./job-progress.ts";
import { JobState } from "./job-rows.ts";
import type { NewRun, RunOutcome } from "./run-records.ts";
import { insertRuns, runKey } from "./run-records.ts";
import type { StoreContext } from "./store-context.ts";

/** What happened to one occurrence a holder was given. Outcomes are final: the occurrence is settled. */
export interface OccurrenceResult {
  readonly jobId: string;
  readonly scheduledAt: Date;
  /** True for a manual trigger (`ClaimedJob.trigger`). */
  readonly manual?: boolean;
  /** `fired`: published and acknowledged; `missed`: past `fireBy`; `failed`: could not be published. */
  readonly outcome: RunOutcome;
  /** When it was published, on the database's clock; defaults to the database's now. */
  readonly firedAt?: Date;
  readonly error?: string;
  readonly streamSeq?: number;
  /** An http job's occurrence handed to the delivery workers (informational: the job's definition decides). */
  readonly delivery?: boolean;
  /**
   * The job's definition and version as the holder armed the occurrence: while the stored
   * version is still this one, the definition is not read again (`lockHeld`).
   */
  readonly known?: KnownDefinition;
}

export interface CompleteOptions {
  readonly horizonMs: number;
  readonly leaseMs: number;
}

export interface CompletionResult {
  readonly dbNow: Date;
  /** Per input, in order: `accepted` false when this owner no longer holds the job (nothing was written). */
  readonly outcomes: readonly { jobId: string; scheduledAt: Date; accepted: boolean; recorded: boolean }[];
  /**
   * Jobs still held with something due within the horizon — arm their timers (deduplicate by
   * `messageId`: a pending trigger is repeated until it completes). Other jobs were released.
   */
  readonly continuing: readonly ClaimedJob[];
  /** Occurrences that became overdue meanwhile and were recorded missed under the job's policy. */
  readonly missed: readonly MissedOccurrences[];
}

/**
 * Settles occurrences in one transaction, for any number of jobs: records each run (once — a
 * repeat is a no-op), advances next_run_at past a scheduled occurrence (runs_count + 1 when
 * fired; state `completed` when no occurrence is left), clears a completed trigger, keeps the
 * claim when the job has more due within the horizon and releases it otherwise.
 *
 * The job's progress is guarded by `claimed_by = owner`: a replica whose claim is gone (the job
 * paused, changed or cancelled meanwhile, or its lease ran out and another replica holds it) gets
 * `accepted: false` and moves nothing on. Its published occurrences' runs are recorded all the
 * same: their messages are out, and a paused or changed job fires no one again to record them
 * (a new holder's repeat of the same message id is deduplicated by JetStream and its run by the
 * table). Nothing else of a job no longer held is recorded.
 */
export async function completeOccurrences(
  ctx: StoreContext,
  owner: string,
  results: readonly OccurrenceResult[],
  options: CompleteOptions,
): Promise<CompletionResult> {
  const ordered = [...results].sort((a, b) =>
    a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : a.scheduledAt.getTime() - b.scheduledAt.getTime(),
  );
  return inTransaction(ctx.pool, async (client) => {
    const ids = [...new Set(ordered.map((r) => r.jobId))];
    const known = new Map<string, KnownDefinition>();
    for (const r of ordered) if (r.known) known.set(r.jobId, r.known);
    const { rows, now } = await lockHeld(client, ctx, owner, ids, known);
    const progress = new Map(rows.map((row) => [row.id, progressOf(row)]));
    const runs: NewRun[] = [];
    const missed: MissedOccurrences[] = [];
    for (const result of ordered) {
      const p = progress.get(result.jobId);
      if (!p) {
        if (published(result)) runs.push(toRun(result, now));
        continue;
      }
      runs.push(toRun(result, now));
      const m = apply(p, result, now, runs);
      if (m) missed.push(m);
    }
    for (const p of progress.values()) decideClaim(p, now, options.horizonMs);
    const recorded = await insertRuns(client, ctx, owner, runs);
    await queueDeliveries(client, ctx, deliveriesOf(ordered, progress, recorded));
    const written = await writeProgress(client, ctx, owner, options.leaseMs, [...progress.values()]);
    return {
      dbNow: now,
      outcomes: results.map((r) => ({
        jobId: r.jobId,
        scheduledAt: r.scheduledAt,
        accepted: progress.has(r.jobId),
        recorded: recorded.has(runKey(r.jobId, r.scheduledAt)),
      })),
      continuing: written.flatMap((row) => claimedJobOf(row, now, options.horizonMs) ?? []),
      missed,
    };
  });
}

/** A NATS occurrence whose message JetStream acknowledged. */
const published = (result: OccurrenceResult) => result.outcome === "fired" && result.streamSeq !== undefined;

function apply(
  p: JobProgress,
  result: OccurrenceResult,
  now: Date,
  runs: NewRun[],
): MissedOccurrences | null {
  const at = result.scheduledAt.getTime();
  if (result.manual) {
    if (p.triggerAt?.getTime() === at) p.triggerAt = null;
    if (result.outcome === "fired") p.lastRunAt = result.firedAt ?? now;
    return null;
  }
  // Only the occurrence the job is waiting for moves it on; a repeated or stale completion
  // (already advanced, or the job was changed since) is recorded but changes nothing else.
  if (p.state !== JobState.active || p.nextRunAt?.getTime() !== at) return null;
  if (result.outcome === "fired") {
    p.runsCount += 1;
    p.lastRunAt = result.firedAt ?? now;
  }
  const next = nextOccurrence(p.row.definition, result.scheduledAt, p.runsCount);
  p.nextRunAt = next;
  p.nextFireBy = next ? new Date(next.getTime() + p.row.definition.maxLatenessMs) : null;
  if (!next) {
    p.state = JobState.completed;
    return null;
  }
  return settleMisfire(p, now, runs);
}

/**
 * The deliveries of the http jobs' runs this batch recorded as fired, by the job's definition
 * as locked now (a definition changed since the occurrence was armed cleared the claim, so its
 * completion was refused above). NATS jobs' runs, and runs recorded before, have none.
 */
function deliveriesOf(
  results: readonly OccurrenceResult[],
  progress: ReadonlyMap<string, JobProgress>,
  recorded: ReadonlySet<string>,
): NewDelivery[] {
  const out: NewDelivery[] = [];
  for (const r of results) {
    const definition = progress.get(r.jobId)?.row.definition;
    if (r.outcome !== "fired" || definition?.target.kind !== TargetKind.http) continue;
    if (!recorded.has(runKey(r.jobId, r.scheduledAt))) continue;
    out.push({
      jobId: r.jobId,
      scheduledAt: r.scheduledAt,
      target: definition.target,
      deliverBy: new Date(r.scheduledAt.getTime() + definition.maxLatenessMs),
    });
  }
  return out;
}

function toRun(result: OccurrenceResult, now: Date): NewRun {
  const firedAt = result.outcome === "fired" ? (result.firedAt ?? now) : null;
  return {
    jobId: result.jobId,
    scheduledAt: result.scheduledAt,
    manual: result.manual ?? false,
    outcome: result.outcome,
    firedAt,
    latenessMs: (firedAt ?? now).getTime() - result.scheduledAt.getTime(),
    error: result.error ?? null,
    streamSeq: result.streamSeq ?? null,
  };
}
