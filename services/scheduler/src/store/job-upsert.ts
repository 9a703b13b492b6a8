import { inTransaction } from "@dbplane/service-kit";
import type pg from "pg";
import type { JobDefinition } from "../domain/job-definition.ts";
import { checkSchedulable, JobValidationError } from "../domain/job-validation.ts";
import { fireDeadline } from "../domain/misfire.ts";
import { firstOccurrence } from "../domain/occurrences.ts";
import { JobQuotaError } from "./errors.ts";
import type { JobOwner, JobRow, StoredJob } from "./job-rows.ts";
import { JobState, jobColumns, NO_OWNER, toStoredJob } from "./job-rows.ts";
import type { StoreContext } from "./store-context.ts";

export type UpsertOutcome = "created" | "updated" | "unchanged";

export interface UpsertResult {
  readonly outcome: UpsertOutcome;
  readonly job: StoredJob;
}

export interface UpsertOptions {
  /** Who saves the job; recorded with it. Default: no owner. */
  readonly owner?: JobOwner;
  /** Most active or paused jobs one owner may have; no cap when absent. */
  readonly maxJobsPerOwner?: number;
}

/** Whether the row was saved by `owner` with the same scopes. */
const SAME_OWNER = "owner IS NOT DISTINCT FROM $3 AND owner_scopes = $4::text[]";

/**
 * Creates or replaces a job by its id. The next occurrence is computed from the database's
 * clock. Re-sending the same definition is `unchanged` and touches nothing — services that
 * register their periodic work at every start must not reset its schedule or claims.
 *
 * A changed definition (or owner) clears the claim (the holder's completion is then refused) and keeps a
 * paused job paused; a completed or cancelled job becomes active again with its run count reset.
 * @throws JobValidationError when the job could never fire (`schedule.at` too far in the past, …).
 * @throws JobQuotaError when the job would be one live job too many of its owner.
 */
export async function upsertJob(
  ctx: StoreContext,
  job: JobDefinition,
  options: UpsertOptions = {},
): Promise<UpsertResult> {
  const owner = options.owner ?? NO_OWNER;
  const capped = owner.id !== null && options.maxJobsPerOwner !== undefined;
  const quota = async (client: pg.Pool | pg.PoolClient) => {
    if (owner.id !== null && options.maxJobsPerOwner !== undefined)
      await checkQuota(ctx, client, owner.id, options.maxJobsPerOwner);
  };
  // A capped owner's new job is counted and inserted in one transaction under the owner's lock
  // (checkQuota), so concurrent creates cannot both take the last place; the quick path only confirms.
  const quick = await createOrConfirm(ctx, job, owner, quota, !capped);
  if (quick) return quick;
  // Two callers creating the same new id race on the insert; the loser retries as an update.
  for (let attempt = 0; ; attempt++) {
    const result = await inTransaction(ctx.pool, (client) => upsertOnce(ctx, client, job, owner, quota));
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
async function createOrConfirm(
  ctx: StoreContext,
  job: JobDefinition,
  owner: JobOwner,
  quota: (client: pg.Pool) => Promise<void>,
  mayInsert: boolean,
): Promise<UpsertResult | null> {
  const { jobs } = ctx.t;
  const found = await ctx.pool.query<Partial<JobRow> & { same: boolean | null; now: Date }>(
    `SELECT now() AS now, j.*, j.definition = $2::jsonb AND j.${SAME_OWNER} AS same
       FROM (SELECT 1) one LEFT JOIN (SELECT ${jobColumns} FROM ${jobs} WHERE id = $1) j ON true`,
    [job.id, JSON.stringify(job), owner.id, owner.scopes],
  );
  const row = found.rows[0]!;
  // Absence is told by the row, not by `same`: with no row, `NULL IS NOT DISTINCT FROM $3` is
  // false, not null, for any owner but none — so `same` read false for every new id saved by an
  // owner (every API call), and each create took the five-statement locking path.
  const exists = row.id !== null && row.id !== undefined;
  if (exists && row.same) return { outcome: "unchanged", job: toStoredJob(row as JobRow) };
  if (exists || !mayInsert) return null;
  checkSchedulable(job, row.now);
  await quota(ctx.pool);
  const next = firstOccurrence(job, row.now, 0);
  const inserted = await ctx.pool.query<JobRow>(
    `INSERT INTO ${jobs} (id, definition, state, next_run_at, next_fire_by, runs_count, owner, owner_scopes)
     VALUES ($1, $2, $3, $4, $5, 0, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING ${jobColumns}`,
    [
      job.id,
      JSON.stringify(job),
      next ? JobState.active : JobState.completed,
      next,
      next ? fireDeadline(job, next) : null,
      owner.id,
      owner.scopes,
    ],
  );
  return inserted.rows[0] ? { outcome: "created", job: toStoredJob(inserted.rows[0]) } : null;
}

async function upsertOnce(
  ctx: StoreContext,
  client: pg.PoolClient,
  job: JobDefinition,
  owner: JobOwner,
  quota: (client: pg.PoolClient) => Promise<void>,
): Promise<UpsertResult | null> {
  const { jobs } = ctx.t;
  const found = await client.query<JobRow & { same: boolean; now: Date }>(
    `SELECT ${jobColumns}, definition = $2::jsonb AND ${SAME_OWNER} AS same, now() AS now
       FROM ${jobs} WHERE id = $1 FOR UPDATE`,
    [job.id, JSON.stringify(job), owner.id, owner.scopes],
  );
  const existing = found.rows[0];
  if (existing?.same) return { outcome: "unchanged", job: toStoredJob(existing) };

  const now = existing?.now ?? (await client.query<{ now: Date }>("SELECT now() AS now")).rows[0]!.now;
  checkSchedulable(job, now);
  const revive = !existing || existing.state === JobState.completed || existing.state === JobState.cancelled;
  // A job that becomes live, or live under another owner, counts toward that owner's cap.
  if (revive || existing.owner !== owner.id) await quota(client);
  const runsCount = revive ? 0 : existing.runs_count;
  const paused = existing?.state === JobState.paused;
  const next = paused ? null : firstOccurrence(job, now, runsCount);
  const state = paused ? JobState.paused : next ? JobState.active : JobState.completed;
  const values = [
    job.id,
    JSON.stringify(job),
    state,
    next,
    next ? fireDeadline(job, next) : null,
    runsCount,
    owner.id,
    owner.scopes,
  ];

  if (!existing) {
    const inserted = await client.query<JobRow>(
      `INSERT INTO ${jobs} (id, definition, state, next_run_at, next_fire_by, runs_count, owner, owner_scopes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING ${jobColumns}`,
      values,
    );
    const row = inserted.rows[0];
    return row ? { outcome: "created", job: toStoredJob(row) } : null;
  }
  const updated = await client.query<JobRow>(
    `UPDATE ${jobs} SET definition = $2, state = $3, next_run_at = $4, next_fire_by = $5, runs_count = $6,
       owner = $7, owner_scopes = $8, missed_count = CASE WHEN $9 THEN 0 ELSE missed_count END,
       claimed_by = NULL, claim_expires_at = NULL, version = version + 1, updated_at = now()
     WHERE id = $1 RETURNING ${jobColumns}`,
    [...values, revive],
  );
  return { outcome: "updated", job: toStoredJob(updated.rows[0]!) };
}

/**
 * Refuses one more live job of `owner` past `max`. Counts at most `max` rows, so a check costs
 * the same whatever the owner has. Counted before the write, so callers racing to create their
 * last jobs may overshoot by as many as race; the cap bounds abuse, not billing.
 */
async function checkQuota(
  ctx: StoreContext,
  client: pg.Pool | pg.PoolClient,
  owner: string,
  max: number,
): Promise<void> {
  // Held to the end of the caller's transaction: the count and the insert that follows are one step
  // for this owner. (Outside a transaction — the quick path of an uncapped caller — it never runs.)
  await lockOwner(client, owner);
  if ((await liveJobs(ctx, client, owner, max)) >= max) throw new JobQuotaError(owner, max);
}

/** Most jobs in one `upsertJobs` call (one transaction, one statement for the new ones). */
export const MAX_BATCH_JOBS = 1_000;

/**
 * Creates or replaces many jobs in one transaction: all of them or none. The new ids go in with
 * one `INSERT … SELECT FROM unnest(…)`; an id that exists already takes `upsertJob`'s locking
 * path inside the same transaction (unchanged, or updated with its claim cleared). Rows are
 * written in id order, so two batches sharing ids wait on each other instead of deadlocking.
 * Results come in the order of `jobs`.
 *
 * A capped owner's batch is counted under the owner's lock like a single create: refused whole
 * when it would leave the owner more than `maxJobsPerOwner` live jobs.
 * @throws JobValidationError naming `jobs.<index>.<field>` (a job that could never fire, an id
 * given twice); JobQuotaError.
 */
export async function upsertJobs(
  ctx: StoreContext,
  jobs: readonly JobDefinition[],
  options: UpsertOptions = {},
): Promise<UpsertResult[]> {
  if (jobs.length > MAX_BATCH_JOBS) throw new Error(`at most ${MAX_BATCH_JOBS} jobs per batch`);
  const seen = new Map<string, number>();
  for (const [i, job] of jobs.entries()) {
    const first = seen.get(job.id);
    if (first !== undefined) {
      throw new JobValidationError([{ field: `jobs.${i}.id`, message: `is the id of jobs.${first} too` }]);
    }
    seen.set(job.id, i);
  }
  const owner = options.owner ?? NO_OWNER;
  const max = owner.id !== null ? options.maxJobsPerOwner : undefined;
  for (let attempt = 0; ; attempt++) {
    const results = await inTransaction(ctx.pool, (client) => upsertBatchOnce(ctx, client, jobs, owner, max));
    if (results) return results;
    // Null only when an id our insert conflicted on had no row to lock a moment later: retry.
    if (attempt >= 2) throw new Error("batch upsert kept conflicting");
  }
}

async function upsertBatchOnce(
  ctx: StoreContext,
  client: pg.PoolClient,
  jobs: readonly JobDefinition[],
  owner: JobOwner,
  max: number | undefined,
): Promise<UpsertResult[] | null> {
  const { jobs: table } = ctx.t;
  const quota = async (c: pg.PoolClient) => {
    if (owner.id !== null && max !== undefined) await checkQuota(ctx, c, owner.id, max);
  };
  let liveBefore = 0;
  if (owner.id !== null && max !== undefined) {
    await lockOwner(client, owner.id);
    liveBefore = await liveJobs(ctx, client, owner.id, max);
  }
  const now = (await client.query<{ now: Date }>("SELECT now() AS now")).rows[0]!.now;
  const order = jobs.map((job, i) => ({ job, i })).sort((a, b) => (a.job.id < b.job.id ? -1 : 1));
  const columns: [string[], string[], string[], (Date | null)[], (Date | null)[]] = [[], [], [], [], []];
  for (const { job, i } of order) {
    try {
      checkSchedulable(job, now);
    } catch (err) {
      if (!(err instanceof JobValidationError)) throw err;
      throw new JobValidationError(
        err.issues.map((issue) => ({ ...issue, field: `jobs.${i}.${issue.field}` })),
        { cause: err },
      );
    }
    const next = firstOccurrence(job, now, 0);
    columns[0].push(job.id);
    columns[1].push(JSON.stringify(job));
    columns[2].push(next ? JobState.active : JobState.completed);
    columns[3].push(next);
    columns[4].push(next ? fireDeadline(job, next) : null);
  }
  // unnest keeps the arrays' order, so the rows are inserted (and their ids locked) in id order.
  const inserted = await client.query<JobRow>(
    `INSERT INTO ${table} (id, definition, state, next_run_at, next_fire_by, runs_count, owner, owner_scopes)
     SELECT id, definition, state, next_run_at, next_fire_by, 0, $6, $7
       FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::timestamptz[], $5::timestamptz[])
         AS n(id, definition, state, next_run_at, next_fire_by)
     ON CONFLICT (id) DO NOTHING RETURNING ${jobColumns}`,
    [...columns, owner.id, owner.scopes],
  );
  const created = new Map(inserted.rows.map((row) => [row.id, row]));
  if (max !== undefined && created.size > 0 && liveBefore + created.size > max) {
    throw new JobQuotaError(owner.id!, max);
  }
  const results = new Array<UpsertResult>(jobs.length);
  for (const { job, i } of order) {
    const row = created.get(job.id);
    if (row) {
      results[i] = { outcome: "created", job: toStoredJob(row) };
      continue;
    }
    // Existed already (or another caller's insert won): the single job's locking path.
    const result = await upsertOnce(ctx, client, job, owner, quota);
    if (!result) return null;
    results[i] = result;
  }
  return results;
}

function lockOwner(client: pg.Pool | pg.PoolClient, owner: string): Promise<unknown> {
  return client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
    `dbplane-scheduler-owner:${owner}`,
  ]);
}

/** The owner's live jobs, counted up to `max` (a check costs the same whatever the owner has). */
async function liveJobs(
  ctx: StoreContext,
  client: pg.Pool | pg.PoolClient,
  owner: string,
  max: number,
): Promise<number> {
  const { rows } = await client.query<{ live: string }>(
    `SELECT count(*) AS live
       FROM (SELECT 1 FROM ${ctx.t.jobs} WHERE owner = $1 AND state IN ('active', 'paused') LIMIT $2) live`,
    [owner, max],
  );
  return Number(rows[0]?.live ?? 0);
}
