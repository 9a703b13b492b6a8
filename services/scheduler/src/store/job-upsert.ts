import { inTransaction } from "@dbplane/service-kit";
import type pg from "pg";
import type { JobDefinition } from "../domain/job-definition.ts";
import { checkSchedulable } from "../domain/job-validation.ts";
import { fireDeadline } from "../domain/misfire.ts";
import { firstOccurrence } from "../domain/occurrences.ts";
import type { JobRow, StoredJob } from "./job-rows.ts";
import { JobState, jobColumns, toStoredJob } from "./job-rows.ts";
import type { StoreContext } from "./store-context.ts";

export type UpsertOutcome = "created" | "updated" | "unchanged";

export interface UpsertResult {
  readonly outcome: UpsertOutcome;
  readonly job: StoredJob;
}

/**
 * Creates or replaces a job by its id. The next occurrence is computed from the database's
 * clock. Re-sending the same definition is `unchanged` and touches nothing — services that
 * register their periodic work at every start must not reset its schedule or claims.
 *
 * A changed definition clears the claim (the holder's completion is then refused) and keeps a
 * paused job paused; a completed or cancelled job becomes active again with its run count reset.
 * @throws JobValidationError when the job could never fire (`schedule.at` too far in the past, …).
 */
export async function upsertJob(ctx: StoreContext, job: JobDefinition): Promise<UpsertResult> {
  const quick = await createOrConfirm(ctx, job);
  if (quick) return quick;
  // Two callers creating the same new id race on the insert; the loser retries as an update.
  for (let attempt = 0; ; attempt++) {
    const result = await inTransaction(ctx.pool, (client) => upsertOnce(ctx, client, job));
    if (result || attempt >= 2) {
      if (!result) throw new Error(`upsert of job ${JSON.stringify(job.id)} kept conflicting`);
      return result;
    }
  }
}

/**
 * The common cases without a transaction: a new id is one read and one `INSERT … ON CONFLICT DO
 * NOTHING` (two round trips instead of five), the same definition again is one read. Anything
 * else — a changed definition, or another caller inserting the id in between — returns null
 * and takes the locking path.
 */
async function createOrConfirm(ctx: StoreContext, job: JobDefinition): Promise<UpsertResult | null> {
  const { jobs } = ctx.t;
  const found = await ctx.pool.query<Partial<JobRow> & { same: boolean | null; now: Date }>(
    `SELECT now() AS now, j.*, j.definition = $2::jsonb AS same
       FROM (SELECT 1) one LEFT JOIN (SELECT ${jobColumns} FROM ${jobs} WHERE id = $1) j ON true`,
    [job.id, JSON.stringify(job)],
  );
  const row = found.rows[0]!;
  if (row.same) return { outcome: "unchanged", job: toStoredJob(row as JobRow) };
  if (row.same === false) return null;
  checkSchedulable(job, row.now);
  const next = firstOccurrence(job, row.now, 0);
  const inserted = await ctx.pool.query<JobRow>(
    `INSERT INTO ${jobs} (id, definition, state, next_run_at, next_fire_by, runs_count)
     VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (id) DO NOTHING RETURNING ${jobColumns}`,
    [
      job.id,
      JSON.stringify(job),
      next ? JobState.active : JobState.completed,
      next,
      next ? fireDeadline(job, next) : null,
    ],
  );
  return inserted.rows[0] ? { outcome: "created", job: toStoredJob(inserted.rows[0]) } : null;
}

async function upsertOnce(
  ctx: StoreContext,
  client: pg.PoolClient,
  job: JobDefinition,
): Promise<UpsertResult | null> {
  const { jobs } = ctx.t;
  const found = await client.query<JobRow & { same: boolean; now: Date }>(
    `SELECT ${jobColumns}, definition = $2::jsonb AS same, now() AS now FROM ${jobs} WHERE id = $1 FOR UPDATE`,
    [job.id, JSON.stringify(job)],
  );
  const existing = found.rows[0];
  if (existing?.same) return { outcome: "unchanged", job: toStoredJob(existing) };

  const now = existing?.now ?? (await client.query<{ now: Date }>("SELECT now() AS now")).rows[0]!.now;
  checkSchedulable(job, now);
  const revive = !existing || existing.state === JobState.completed || existing.state === JobState.cancelled;
  const runsCount = revive ? 0 : existing.runs_count;
  const paused = existing?.state === JobState.paused;
  const next = paused ? null : firstOccurrence(job, now, runsCount);
  const state = paused ? JobState.paused : next ? JobState.active : JobState.completed;
  const values = [job.id, JSON.stringify(job), state, next, next ? fireDeadline(job, next) : null, runsCount];

  if (!existing) {
    const inserted = await client.query<JobRow>(
      `INSERT INTO ${jobs} (id, definition, state, next_run_at, next_fire_by, runs_count)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING ${jobColumns}`,
      values,
    );
    const row = inserted.rows[0];
    return row ? { outcome: "created", job: toStoredJob(row) } : null;
  }
  const updated = await client.query<JobRow>(
    `UPDATE ${jobs} SET definition = $2, state = $3, next_run_at = $4, next_fire_by = $5, runs_count = $6,
       missed_count = CASE WHEN $7 THEN 0 ELSE missed_count END,
       claimed_by = NULL, claim_expires_at = NULL, version = version + 1, updated_at = now()
     WHERE id = $1 RETURNING ${jobColumns}`,
    [...values, revive],
  );
  return { outcome: "updated", job: toStoredJob(updated.rows[0]!) };
}
