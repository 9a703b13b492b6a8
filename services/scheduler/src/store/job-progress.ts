import type pg from "pg";
import type { JobDefinition } from "../domain/job-definition.ts";
import { occurrenceMessageId } from "../domain/message-id.ts";
import { resolveMisfire } from "../domain/misfire.ts";
import type { HeldRow, JobOwner, JobRow } from "./job-rows.ts";
import { heldColumns, JobState } from "./job-rows.ts";
import type { NewRun } from "./run-records.ts";
import type { StoreContext } from "./store-context.ts";

/** One occurrence a claim holder should publish. */
export interface DueOccurrence {
  readonly scheduledAt: Date;
  /** Publish no later than this (database clock); after it, record the occurrence as missed. */
  readonly fireBy: Date;
  /** `Nats-Msg-Id`: `<jobId>:<scheduledAt ISO>`. */
  readonly messageId: string;
  /** A manual trigger rather than the schedule. */
  readonly manual: boolean;
}

/** A job this replica holds, with what it has to publish within the horizon. */
export interface ClaimedJob {
  readonly id: string;
  readonly definition: JobDefinition;
  readonly version: number;
  /** Who saved it, with the scopes they held then: checked again before every publish. */
  readonly owner: JobOwner;
  /** The claim is lost after this (database clock) unless renewed or completed. Never publish after it. */
  readonly claimExpiresAt: Date;
  /** The scheduled occurrence due within the horizon, or null. */
  readonly next: DueOccurrence | null;
  /** A pending manual trigger due within the horizon, or null. */
  readonly trigger: DueOccurrence | null;
}

/** Occurrences a misfire resolution recorded as missed, for the `job.missed` event and metrics. */
export interface MissedOccurrences {
  readonly jobId: string;
  /** The recorded ones, oldest first (at most `JobLimits.missedDetailLimit`). */
  readonly occurrences: readonly Date[];
  /** All missed by this resolution, including those not listed. */
  readonly total: number;
}

/** A held job's state while a batch works on it, written back in one statement. */
export interface JobProgress {
  readonly row: HeldRow;
  state: JobRow["state"];
  nextRunAt: Date | null;
  nextFireBy: Date | null;
  triggerAt: Date | null;
  runsCount: number;
  missedAdded: number;
  lastRunAt: Date | null;
  keepClaim: boolean;
}

export function progressOf(row: HeldRow): JobProgress {
  return {
    row,
    state: row.state,
    nextRunAt: row.next_run_at,
    nextFireBy: row.next_fire_by,
    triggerAt: row.trigger_at,
    runsCount: row.runs_count,
    missedAdded: 0,
    lastRunAt: null,
    keepClaim: true,
  };
}

/**
 * Moves a job whose next occurrence is past its deadline through its misfire policy: records
 * the missed ones (returned as runs to insert) and points next_run_at at the first catch-up or
 * the first occurrence still in time. Jobs whose next is in time are left as they are.
 */
export function settleMisfire(p: JobProgress, now: Date, runs: NewRun[]): MissedOccurrences | null {
  if (p.state !== JobState.active || !p.nextRunAt || !p.nextFireBy || p.nextFireBy >= now) return null;
  const plan = resolveMisfire(p.row.definition, { nextRunAt: p.nextRunAt, runsCount: p.runsCount, now });
  for (const at of plan.missed) {
    runs.push({
      jobId: p.row.id,
      scheduledAt: at,
      manual: false,
      outcome: "missed",
      firedAt: null,
      latenessMs: now.getTime() - at.getTime(),
      error: "later than maxLatenessMs",
      streamSeq: null,
    });
  }
  p.missedAdded += plan.missedTotal;
  p.nextRunAt = plan.nextRunAt;
  p.nextFireBy = plan.fireBy;
  if (!plan.nextRunAt) p.state = JobState.completed;
  return plan.missedTotal > 0 ? { jobId: p.row.id, occurrences: plan.missed, total: plan.missedTotal } : null;
}

/** Keep the claim only while something is due within the horizon; otherwise let others have it. */
export function decideClaim(p: JobProgress, now: Date, horizonMs: number): void {
  const limit = now.getTime() + horizonMs;
  const nextDue = p.state === JobState.active && p.nextRunAt !== null && p.nextRunAt.getTime() <= limit;
  const triggerDue = p.triggerAt !== null && p.triggerAt.getTime() <= limit;
  p.keepClaim = nextDue || triggerDue;
}

/** Writes the batch's progress back, only for jobs this owner still holds. Returns the rows still claimed afterwards. */
export async function writeProgress(
  client: pg.PoolClient,
  ctx: StoreContext,
  owner: string,
  leaseMs: number,
  progress: readonly JobProgress[],
): Promise<HeldRow[]> {
  if (progress.length === 0) return [];
  // Only rows still held come back (released and completed ones are of no further use here):
  // at thousands of one-shots per batch, returning and parsing every row was most of the cost.
  const { rows } = await client.query<HeldRow>({
    name: ctx.statement("write_progress"),
    text: `WITH written AS (UPDATE ${ctx.t.jobs} AS j SET
       state = u.state, next_run_at = u.next_run_at, next_fire_by = u.next_fire_by, trigger_at = u.trigger_at,
       runs_count = u.runs_count, missed_count = j.missed_count + u.missed_added,
       last_run_at = COALESCE(u.last_run_at, j.last_run_at),
       claimed_by = CASE WHEN u.keep THEN j.claimed_by END,
       claim_expires_at = CASE WHEN u.keep THEN now() + $11 * interval '1 millisecond' END,
       updated_at = now()
     FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::int[],
                 $7::bigint[], $8::timestamptz[], $9::boolean[])
       AS u(id, state, next_run_at, next_fire_by, trigger_at, runs_count, missed_added, last_run_at, keep)
     WHERE j.id = u.id AND j.claimed_by = $10
     RETURNING ${heldColumns.replace(/(\w+)/g, "j.$1").replace("j.definition", "NULL::jsonb AS definition")})
     SELECT * FROM written WHERE claim_expires_at IS NOT NULL`,
    values: [
      progress.map((p) => p.row.id),
      progress.map((p) => p.state),
      progress.map((p) => p.nextRunAt),
      progress.map((p) => p.nextFireBy),
      progress.map((p) => p.triggerAt),
      progress.map((p) => p.runsCount),
      progress.map((p) => p.missedAdded),
      progress.map((p) => p.lastRunAt),
      progress.map((p) => p.keepClaim),
      owner,
      leaseMs,
    ],
  });
  // The definition is not read back: every caller locked these rows (`lockHeld`) in this
  // transaction, so it is the one they hold.
  const held = new Map(progress.map((p) => [p.row.id, p.row.definition]));
  for (const row of rows) row.definition = held.get(row.id)!;
  return rows;
}

/** What a held row asks its holder to publish within the horizon; null when nothing (claim released). */
export function claimedJobOf(row: HeldRow, now: Date, horizonMs: number): ClaimedJob | null {
  if (!row.claim_expires_at) return null;
  const limit = now.getTime() + horizonMs;
  const def = row.definition;
  const next =
    row.state === JobState.active && row.next_run_at && row.next_fire_by && row.next_run_at.getTime() <= limit
      ? due(row.id, row.next_run_at, row.next_fire_by, false)
      : null;
  const trigger =
    row.trigger_at && row.trigger_at.getTime() <= limit
      ? due(row.id, row.trigger_at, new Date(row.trigger_at.getTime() + def.maxLatenessMs), true)
      : null;
  if (!next && !trigger) return null;
  return {
    id: row.id,
    definition: def,
    version: row.version,
    owner: { id: row.owner, scopes: row.owner_scopes },
    claimExpiresAt: row.claim_expires_at,
    next,
    trigger,
  };
}

function due(jobId: string, scheduledAt: Date, fireBy: Date, manual: boolean): DueOccurrence {
  return { scheduledAt, fireBy, messageId: occurrenceMessageId(jobId, scheduledAt), manual };
}
