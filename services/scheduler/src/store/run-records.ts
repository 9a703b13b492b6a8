import { inTransaction } from "@dbplane/service-kit";
import type pg from "pg";
import type { JobRetention } from "../domain/run-retention.ts";
import { InvalidCursorError } from "./errors.ts";
import type { Page } from "./job-queries.ts";
import { clampLimit } from "./job-queries.ts";
import { decodeCursor, encodeCursor } from "./paging-cursor.ts";
import type { StoreContext } from "./store-context.ts";

export type RunOutcome = "fired" | "missed" | "failed";

/** A run to insert; `recorded` tells whether it was new. */
export interface NewRun {
  readonly jobId: string;
  readonly scheduledAt: Date;
  /** An extra occurrence asked for by trigger, not from the schedule. */
  readonly manual: boolean;
  readonly outcome: RunOutcome;
  /** When the message was published (database clock); null unless fired. */
  readonly firedAt: Date | null;
  /** firedAt − scheduledAt; for missed/failed, how late it was when given up. */
  readonly latenessMs: number | null;
  readonly error: string | null;
  /** The JetStream sequence of the published message. */
  readonly streamSeq: number | null;
}

/** One occurrence of a job, as recorded. */
export interface RunRecord extends NewRun {
  readonly recordedBy: string | null;
  readonly recordedAt: Date;
}

interface RunRow {
  job_id: string;
  scheduled_at: Date;
  manual: boolean;
  outcome: RunOutcome;
  fired_at: Date | null;
  lateness_ms: string | null;
  error: string | null;
  stream_seq: string | null;
  recorded_by: string | null;
  recorded_at: Date;
}

/**
 * Inserts runs in one statement; a run already recorded (same job and scheduled time) is left
 * as it is. Returns the keys `<jobId>\u0000<ms>` of the rows that were new.
 */
export async function insertRuns(
  client: pg.PoolClient,
  ctx: StoreContext,
  owner: string,
  runs: readonly NewRun[],
): Promise<Set<string>> {
  if (runs.length === 0) return new Set();
  const { rows } = await client.query<{ job_id: string; scheduled_at: Date }>({
    name: ctx.statement("insert_runs"),
    text: `INSERT INTO ${ctx.t.runs} (job_id, scheduled_at, manual, outcome, fired_at, lateness_ms, error, stream_seq, recorded_by)
     SELECT r.*, $9 FROM unnest($1::text[], $2::timestamptz[], $3::boolean[], $4::text[], $5::timestamptz[],
                              $6::bigint[], $7::text[], $8::bigint[]) AS r
     ON CONFLICT (job_id, scheduled_at) DO NOTHING
     RETURNING job_id, scheduled_at`,
    values: [
      runs.map((r) => r.jobId),
      runs.map((r) => r.scheduledAt),
      runs.map((r) => r.manual),
      runs.map((r) => r.outcome),
      runs.map((r) => r.firedAt),
      runs.map((r) => r.latenessMs),
      runs.map((r) => r.error),
      runs.map((r) => r.streamSeq),
      owner,
    ],
  });
  return new Set(rows.map((r) => runKey(r.job_id, r.scheduled_at)));
}

export function runKey(jobId: string, scheduledAt: Date): string {
  return `${jobId}\u0000${scheduledAt.getTime()}`;
}

/** A job's runs, newest first, keyset-paged by scheduled time. */
export async function listRuns(
  ctx: StoreContext,
  jobId: string,
  options: { limit?: number; cursor?: string; outcome?: RunOutcome } = {},
): Promise<Page<RunRecord>> {
  const limit = clampLimit(options.limit);
  const before = options.cursor ? decodeCursor(options.cursor) : null;
  if (before !== null && !Number.isFinite(Date.parse(before))) throw new InvalidCursorError();
  const { rows } = await ctx.pool.query<RunRow>(
    `SELECT * FROM ${ctx.t.runs}
     WHERE job_id = $1 AND ($2::timestamptz IS NULL OR scheduled_at < $2) AND ($3::text IS NULL OR outcome = $3)
     ORDER BY scheduled_at DESC LIMIT $4`,
    [jobId, before, options.outcome ?? null, limit + 1],
  );
  const items = rows.slice(0, limit).map(toRunRecord);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last ? encodeCursor(last.scheduledAt.toISOString()) : null,
  };
}

/** Filters of the runs across jobs. */
export interface ListAllRunsOptions {
  readonly job?: string;
  readonly outcome?: RunOutcome;
  /** Runs recorded at or after this instant. */
  readonly since?: Date;
  readonly limit?: number;
  readonly cursor?: string;
}

/** Microseconds since the epoch of a timestamptz, exactly (a JS Date would drop the last three digits). */
const micros = (column: string) => `(extract(epoch FROM ${column}) * 1000000)::bigint::text`;
const fromMicros = (param: string) => `(timestamptz 'epoch' + ${param}::bigint * interval '1 microsecond')`;

/**
 * Runs of every job, newest recorded first (ties by job id, then scheduled time, both
 * descending), keyset-paged on those three: a page never repeats or skips a run, whatever is
 * recorded or pruned meanwhile. Walks the `recorded_at` index, so the firing path needs no
 * extra index for it.
 */
export async function listAllRuns(
  ctx: StoreContext,
  options: ListAllRunsOptions = {},
): Promise<Page<RunRecord>> {
  const limit = clampLimit(options.limit);
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (options.job !== undefined) where.push(`job_id = ${param(options.job)}`);
  if (options.outcome !== undefined) where.push(`outcome = ${param(options.outcome)}`);
  if (options.since !== undefined) where.push(`recorded_at >= ${param(options.since)}`);
  if (options.cursor !== undefined) {
    const after = parseRunCursor(options.cursor);
    const recorded = fromMicros(param(after.recordedUs));
    where.push(
      `recorded_at <= ${recorded}`,
      `(recorded_at, job_id, scheduled_at) < (${recorded}, ${param(after.jobId)}, ${fromMicros(param(after.scheduledUs))})`,
    );
  }
  const { rows } = await ctx.pool.query<RunRow & { recorded_us: string; scheduled_us: string }>(
    `SELECT *, ${micros("recorded_at")} AS recorded_us, ${micros("scheduled_at")} AS scheduled_us
     FROM ${ctx.t.runs} ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY recorded_at DESC, job_id DESC, scheduled_at DESC LIMIT ${param(limit + 1)}`,
    values,
  );
  const last = rows.length > limit ? rows[limit - 1] : undefined;
  return {
    items: rows.slice(0, limit).map(toRunRecord),
    nextCursor: last
      ? encodeCursor(JSON.stringify([last.recorded_us, last.job_id, last.scheduled_us]))
      : null,
  };
}

function parseRunCursor(cursor: string): { recordedUs: string; jobId: string; scheduledUs: string } {
  let key: unknown;
  try {
    key = JSON.parse(decodeCursor(cursor));
  } catch (err) {
    throw new InvalidCursorError({ cause: err });
  }
  if (Array.isArray(key) && key.length === 3) {
    const [recordedUs, jobId, scheduledUs] = key as unknown[];
    const micros = /^-?\d{1,18}$/;
    if (
      typeof recordedUs === "string" &&
      typeof jobId === "string" &&
      typeof scheduledUs === "string" &&
      micros.test(recordedUs) &&
      micros.test(scheduledUs)
    ) {
      return { recordedUs, jobId, scheduledUs };
    }
  }
  throw new InvalidCursorError();
}

/**
 * A run the pruner may delete: its webhook delivery, if any, has ended and its end is announced
 * (`job.delivered` / `job.delivery-failed` published). A delivery still pending, running or
 * buffered would vanish with its run (the foreign key cascades), and an unannounced end would
 * lose its event. States only move forward, so a run found prunable stays so.
 */
function prunable(ctx: StoreContext): string {
  return `NOT EXISTS (SELECT 1 FROM ${ctx.t.deliveries} d
    WHERE d.job_id = r.job_id AND d.scheduled_at = r.scheduled_at
      AND (d.state IN ('pending', 'running', 'buffered')
           OR (d.state IN ('succeeded', 'failed') AND d.announced_at IS NULL)))`;
}

/** Jobs whose definition has a `retention` of their own: the global one does not apply to them. */
function ownRetention(ctx: StoreContext, jobId: string): string {
  return `EXISTS (SELECT 1 FROM ${ctx.t.jobs} j WHERE j.id = ${jobId} AND j.definition ? 'retention')`;
}

/**
 * Deletes runs recorded before `before` of jobs without a retention of their own, at most
 * `limit` per call (call until it returns less), so retention never holds a long lock. Runs are
 * history: nothing else depends on them once the bus duplicate window has passed — except an
 * open or unannounced delivery, whose run is kept.
 */
export async function pruneRuns(ctx: StoreContext, before: Date, limit = 1_000): Promise<number> {
  return pruneBatch(
    ctx,
    `SELECT ctid FROM ${ctx.t.runs} r WHERE recorded_at < $1 AND NOT ${ownRetention(ctx, "r.job_id")}
       AND ${prunable(ctx)}
     LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [before, limit],
  );
}

/** Deletes up to `limit` of one job's runs recorded before `before` (its own retention's age). */
export async function pruneJobRunsBefore(
  ctx: StoreContext,
  jobId: string,
  before: Date,
  limit = 1_000,
): Promise<number> {
  return pruneBatch(
    ctx,
    `SELECT ctid FROM ${ctx.t.runs} r WHERE job_id = $1 AND recorded_at < $2 AND ${prunable(ctx)}
     LIMIT $3 FOR UPDATE SKIP LOCKED`,
    [jobId, before, limit],
  );
}

/**
 * Up to `jobs` jobs without a retention of their own with an id after `afterId`, in id order,
 * each with whether it has more than `keep` runs (all are listed, so the caller can page on by
 * the last id).
 */
export async function jobsOverRunCount(
  ctx: StoreContext,
  keep: number,
  afterId: string,
  jobs: number,
): Promise<{ jobId: string; over: boolean }[]> {
  const { rows } = await ctx.pool.query<{ id: string; over: boolean }>(
    `SELECT j.id, EXISTS (SELECT 1 FROM ${ctx.t.runs} r WHERE r.job_id = j.id
                          ORDER BY scheduled_at DESC OFFSET $1 LIMIT 1) AS over
     FROM ${ctx.t.jobs} j WHERE j.id > $2 AND NOT (j.definition ? 'retention') ORDER BY j.id LIMIT $3`,
    [keep, afterId, jobs],
  );
  return rows.map((r) => ({ jobId: r.id, over: r.over }));
}

/** Up to `jobs` jobs with a retention of their own and an id after `afterId`, in id order. */
export async function jobRetentions(
  ctx: StoreContext,
  afterId: string,
  jobs: number,
): Promise<{ jobId: string; retention: JobRetention }[]> {
  const { rows } = await ctx.pool.query<{ id: string; retention: JobRetention }>(
    `SELECT id, definition->'retention' AS retention FROM ${ctx.t.jobs}
     WHERE id > $1 AND definition ? 'retention' ORDER BY id LIMIT $2`,
    [afterId, jobs],
  );
  return rows.map((r) => ({ jobId: r.id, retention: r.retention }));
}

/** Deletes up to `limit` of a job's oldest runs beyond its `keep` newest (by scheduled time). */
export async function pruneJobRuns(
  ctx: StoreContext,
  jobId: string,
  keep: number,
  limit = 1_000,
): Promise<number> {
  return pruneBatch(
    ctx,
    `SELECT ctid FROM ${ctx.t.runs} r WHERE job_id = $1 AND scheduled_at <= (
       SELECT scheduled_at FROM ${ctx.t.runs} WHERE job_id = $1 ORDER BY scheduled_at DESC OFFSET $2 LIMIT 1)
       AND ${prunable(ctx)}
     ORDER BY scheduled_at LIMIT $3 FOR UPDATE SKIP LOCKED`,
    [jobId, keep, limit],
  );
}

/**
 * Deletes the rows `select` finds (their ctids), in a transaction of its own with a short
 * lock_timeout: rows another transaction holds are skipped (SKIP LOCKED), and a table lock it
 * cannot get at once (a migration) fails this batch rather than queueing the firing path's
 * inserts behind it. It takes no lock on jobs.
 */
async function pruneBatch(ctx: StoreContext, select: string, values: unknown[]): Promise<number> {
  return inTransaction(ctx.pool, async (client) => {
    await client.query("SET LOCAL lock_timeout = '200ms'");
    const result = await client.query(
      `DELETE FROM ${ctx.t.runs} WHERE ctid = ANY (ARRAY(${select}))`,
      values,
    );
    return result.rowCount ?? 0;
  });
}

function toRunRecord(row: RunRow): RunRecord {
  return {
    jobId: row.job_id,
    scheduledAt: row.scheduled_at,
    manual: row.manual,
    outcome: row.outcome,
    firedAt: row.fired_at,
    latenessMs: row.lateness_ms === null ? null : Number(row.lateness_ms),
    error: row.error,
    streamSeq: row.stream_seq === null ? null : Number(row.stream_seq),
    recordedBy: row.recorded_by,
    recordedAt: row.recorded_at,
  };
}
