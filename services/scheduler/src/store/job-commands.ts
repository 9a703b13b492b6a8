import { inTransaction } from "@dbplane/service-kit";
import { fireDeadline } from "../domain/misfire.ts";
import { firstOccurrence } from "../domain/occurrences.ts";
import { JobStateConflictError } from "./errors.ts";
import type { JobRow, StoredJob } from "./job-rows.ts";
import { JobState, jobColumns, toStoredJob } from "./job-rows.ts";
import type { StoreContext } from "./store-context.ts";

/*
 * State changes through the API. Each returns the job after the change, or null when there is
 * no job with that id; each is idempotent (pausing a paused job is a no-op, not an error).
 * Every change that moves next_run_at also clears the claim, so a replica still holding the
 * old occurrence has its completion refused.
 */

type Change = (row: JobRow & { now: Date }) => Record<string, unknown> | "unchanged";

async function change(ctx: StoreContext, id: string, decide: Change): Promise<StoredJob | null> {
  return inTransaction(ctx.pool, async (client) => {
    const { rows } = await client.query<JobRow & { now: Date }>(
      `SELECT ${jobColumns}, now() AS now FROM ${ctx.t.jobs} WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const row = rows[0];
    if (!row) return null;
    const set = decide(row);
    if (set === "unchanged") return toStoredJob(row);
    const columns = Object.keys(set);
    const assignments = columns.map((c, i) => `${c} = $${i + 2}`).join(", ");
    const updated = await client.query<JobRow>(
      `UPDATE ${ctx.t.jobs} SET ${assignments}, version = version + 1, updated_at = now()
       WHERE id = $1 RETURNING ${jobColumns}`,
      [id, ...columns.map((c) => set[c])],
    );
    return toStoredJob(updated.rows[0]!);
  });
}

const released = { claimed_by: null, claim_expires_at: null };

/** Cancels a job for good (DELETE): no further occurrence, pending trigger dropped; runs are kept. */
export function cancelJob(ctx: StoreContext, id: string): Promise<StoredJob | null> {
  return change(ctx, id, (row) =>
    row.state === JobState.cancelled
      ? "unchanged"
      : { state: JobState.cancelled, next_run_at: null, next_fire_by: null, trigger_at: null, ...released },
  );
}

/** Pauses an active job: occurrences while paused are neither fired nor recorded as missed. */
export function pauseJob(ctx: StoreContext, id: string): Promise<StoredJob | null> {
  return change(ctx, id, (row) => {
    if (row.state === JobState.paused) return "unchanged";
    if (row.state !== JobState.active) throw new JobStateConflictError(id, row.state, "pause");
    return { state: JobState.paused, next_run_at: null, next_fire_by: null, ...released };
  });
}

/** Resumes a paused job from the database's now: the occurrences it slept through are not caught up. */
export function resumeJob(ctx: StoreContext, id: string): Promise<StoredJob | null> {
  return change(ctx, id, (row) => {
    if (row.state === JobState.active) return "unchanged";
    if (row.state !== JobState.paused) throw new JobStateConflictError(id, row.state, "resume");
    const next = firstOccurrence(row.definition, row.now, row.runs_count);
    return {
      state: next ? JobState.active : JobState.completed,
      next_run_at: next,
      next_fire_by: next ? fireDeadline(row.definition, next) : null,
      ...released,
    };
  });
}

/**
 * Asks for one extra occurrence now, besides the regular schedule (which it does not move or
 * count toward `maxRuns`). Its scheduled time is the database's now truncated to milliseconds,
 * which makes its message id `<jobId>:<that instant>`. A trigger already pending is kept, so
 * triggering twice before it fires yields one extra occurrence. Works on paused and completed
 * jobs (a manual run is a common operator need); refused on cancelled ones.
 * @returns the job and the scheduled time of the pending trigger.
 */
export async function triggerJob(
  ctx: StoreContext,
  id: string,
): Promise<{ job: StoredJob; scheduledAt: Date } | null> {
  const job = await change(ctx, id, (row) => {
    if (row.state === JobState.cancelled) throw new JobStateConflictError(id, row.state, "trigger");
    if (row.trigger_at) return "unchanged";
    return { trigger_at: new Date(Math.floor(row.now.getTime())) };
  });
  return job ? { job, scheduledAt: job.triggerAt! } : null;
}
