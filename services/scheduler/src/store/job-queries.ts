import type { JobRow, JobState, StoredJob } from "./job-rows.ts";
import { jobColumns, toStoredJob } from "./job-rows.ts";
import { decodeCursor, encodeCursor } from "./paging-cursor.ts";
import type { StoreContext } from "./store-context.ts";

export interface Page<T> {
  readonly items: readonly T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

export interface ListJobsOptions {
  readonly state?: JobState;
  /** 1–1000; default 100. */
  readonly limit?: number;
  readonly cursor?: string;
}

export async function getJob(ctx: StoreContext, id: string): Promise<StoredJob | null> {
  const { rows } = await ctx.pool.query<JobRow>(`SELECT ${jobColumns} FROM ${ctx.t.jobs} WHERE id = $1`, [
    id,
  ]);
  return rows[0] ? toStoredJob(rows[0]) : null;
}

/** Jobs ordered by id, keyset-paged (stable while jobs are added or removed between pages). */
export async function listJobs(ctx: StoreContext, options: ListJobsOptions = {}): Promise<Page<StoredJob>> {
  const limit = clampLimit(options.limit);
  const after = options.cursor ? decodeCursor(options.cursor) : null;
  const { rows } = await ctx.pool.query<JobRow>(
    `SELECT ${jobColumns} FROM ${ctx.t.jobs}
     WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR id > $2)
     ORDER BY id LIMIT $3`,
    [options.state ?? null, after, limit + 1],
  );
  const items = rows.slice(0, limit).map(toStoredJob);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}

export function clampLimit(limit: number | undefined): number {
  return Math.min(1000, Math.max(1, Math.trunc(limit ?? 100)));
}
