import type pg from "pg";
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

/**
 * Deletes runs recorded before `before`, at most `limit` per call (call until it returns 0), so
 * retention never holds a long lock. Runs are history: nothing else depends on them once the
 * bus duplicate window has passed.
 */
export async function pruneRuns(ctx: StoreContext, before: Date, limit = 10_000): Promise<number> {
  const result = await ctx.pool.query(
    `DELETE FROM ${ctx.t.runs} WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM ${ctx.t.runs} WHERE recorded_at < $1 LIMIT $2))`,
    [before, limit],
  );
  return result.rowCount ?? 0;
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
