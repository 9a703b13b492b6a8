import type { JobDefinition } from "./job-definition.ts";
import { JobLimits, MisfirePolicy } from "./limits.ts";
import { countOccurrences, latestOccurrencesBefore, occurrenceAtOrAfter } from "./occurrences.ts";

/** Where a job stands when its next occurrence is looked at. All times are the database's. */
export interface MisfireInput {
  /** The first occurrence not yet fired or recorded (the job's `next_run_at`). */
  readonly nextRunAt: Date;
  /** Occurrences fired so far, for `maxRuns`. */
  readonly runsCount: number;
  readonly now: Date;
}

/** What to do with a job's overdue occurrences. */
export interface MisfirePlan {
  /** Overdue occurrences the policy fires anyway, oldest first (`once`: one; `all`: up to the cap). */
  readonly catchUp: readonly Date[];
  /** Overdue occurrences to record as missed, oldest first: the latest `JobLimits.missedDetailLimit`. */
  readonly missed: readonly Date[];
  /** How many occurrences are missed in all, including those not listed in `missed`. */
  readonly missedTotal: number;
  /** False when a cron walk stopped at `JobLimits.misfireScanLimit`: `missedTotal` is then a lower bound. */
  readonly missedTotalExact: boolean;
  /** What the job's next occurrence becomes: the first catch-up, else the first one not overdue; null when none is left. */
  readonly nextRunAt: Date | null;
  /** By when `nextRunAt` must be published; later it is recorded as missed instead. */
  readonly fireBy: Date | null;
}

/**
 * Whether an occurrence is too late to fire: more than `maxLatenessMs` behind `now`. An
 * occurrence exactly `maxLatenessMs` late still fires.
 */
export function isOverdue(job: JobDefinition, scheduledAt: Date, now: Date): boolean {
  return now.getTime() - scheduledAt.getTime() > job.maxLatenessMs;
}

/** The latest instant an on-schedule occurrence may be published: `scheduledAt + maxLatenessMs`. */
export function fireDeadline(job: JobDefinition, scheduledAt: Date): Date {
  return new Date(scheduledAt.getTime() + job.maxLatenessMs);
}

/**
 * Whether an occurrence still fires once past its deadline when the replica holding it was too
 * slow to publish in time (as Quartz treats a trigger that found no free thread): everything but
 * `skip`, whose point is to never fire late.
 */
export function firesWhenLate(job: Pick<JobDefinition, "misfire">): boolean {
  return job.misfire !== MisfirePolicy.skip;
}

function catchUpCount(job: JobDefinition, runsLeft: number): number {
  const byPolicy =
    job.misfire === MisfirePolicy.skip ? 0 : job.misfire === MisfirePolicy.once ? 1 : JobLimits.misfireAllCap;
  return Math.min(byPolicy, runsLeft);
}

/**
 * Applies the job's misfire policy to the occurrences that are overdue at `now` (the scheduler
 * was down, or a replica died holding the claim and the lease ran out late):
 *
 * - `skip`: every overdue occurrence is missed; the job continues with the first one still
 *   within `maxLatenessMs` (which fires, late but in time) or in the future.
 * - `once`: the most recent overdue occurrence fires now; the earlier ones are missed.
 * - `all`: the most recent `JobLimits.misfireAllCap` overdue occurrences fire now, oldest
 *   first; any older ones are missed.
 *
 * Occurrences within `maxLatenessMs` are not overdue and always fire. Catch-ups never exceed
 * the runs left under `maxRuns`. A catch-up must be published within `maxLatenessMs` of the
 * decision (`fireBy`); its followers are resolved again when it completes, which keeps the
 * plan stable: re-resolving from the first catch-up yields the same catch-ups.
 */
export function resolveMisfire(job: JobDefinition, input: MisfireInput): MisfirePlan {
  const { nextRunAt, runsCount, now } = input;
  if (!isOverdue(job, nextRunAt, now)) {
    return {
      catchUp: [],
      missed: [],
      missedTotal: 0,
      missedTotalExact: true,
      nextRunAt,
      fireBy: fireDeadline(job, nextRunAt),
    };
  }
  const threshold = new Date(now.getTime() - job.maxLatenessMs);
  const runsLeft =
    job.maxRuns === undefined ? Number.POSITIVE_INFINITY : Math.max(0, job.maxRuns - runsCount);
  const catchUp = latestOccurrencesBefore(job, threshold, catchUpCount(job, runsLeft), nextRunAt);
  const missedUpTo = catchUp[0] ?? threshold;
  const missed = latestOccurrencesBefore(job, missedUpTo, JobLimits.missedDetailLimit, nextRunAt);
  const total = countOccurrences(job, nextRunAt, missedUpTo, JobLimits.misfireScanLimit);
  const first = catchUp[0];
  const next = first ?? (runsLeft > 0 ? occurrenceAtOrAfter(job, threshold) : null);
  const fireBy = first ? new Date(now.getTime() + job.maxLatenessMs) : next ? fireDeadline(job, next) : null;
  return {
    catchUp,
    missed,
    missedTotal: total.count,
    missedTotalExact: total.exact,
    nextRunAt: next,
    fireBy,
  };
}
