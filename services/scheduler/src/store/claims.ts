import { inTransaction } from "@dbplane/service-kit";
import type pg from "pg";
import type { JobDefinition } from "../domain/job-definition.ts";
import type { ClaimedJob, MissedOccurrences } from "./job-progress.ts";
import { claimedJobOf, decideClaim, progressOf, settleMisfire, writeProgress } from "./job-progress.ts";
import type { HeldRow } from "./job-rows.ts";
import { heldColumns } from "./job-rows.ts";
import type { NewRun } from "./run-records.ts";
import { insertRuns } from "./run-records.ts";
import type { StoreContext } from "./store-context.ts";

export interface ClaimOptions {
  /** Claim what is due up to this far ahead of the database's now (e.g. 2,000 ms). */
  readonly horizonMs: number;
  /**
   * How long a claim lasts unless renewed or completed (e.g. 15,000 ms). It must stay well
   * below the target streams' duplicate window (10 min): a replica that re-fires a dead one's
   * occurrence after the lease must still be deduplicated.
   */
  readonly leaseMs: number;
  /** Most jobs per claim (per kind: scheduled, triggered, taken over). */
  readonly limit: number;
  /**
   * Also take over claims whose lease ran out (default true). That scan visits every claimed
   * job within the horizon, so the firing loop asks for it about once a second, not every tick.
   */
  readonly includeExpired?: boolean;
}

export interface ClaimResult {
  /** The database's now when the claim was made: map it to a local monotonic clock to arm timers. */
  readonly dbNow: Date;
  readonly jobs: readonly ClaimedJob[];
  /** Occurrences found overdue at claim time and recorded as missed under the jobs' policies. */
  readonly missed: readonly MissedOccurrences[];
}

/**
 * Claims jobs with an occurrence (or a manual trigger) due within the horizon that nobody else
 * holds — unclaimed, or whose claim has expired — with `FOR UPDATE SKIP LOCKED`, so concurrent
 * replicas get disjoint sets without waiting on each other. Jobs this owner already holds with
 * an unexpired lease are not returned again.
 *
 * A claimed job whose next occurrence is already past its deadline (the scheduler was down, or
 * its holder died and the lease ran out late) goes through its misfire policy before it is
 * returned, so every returned occurrence is one to publish.
 */
export async function claimDue(
  ctx: StoreContext,
  owner: string,
  options: ClaimOptions,
): Promise<ClaimResult> {
  // Three index-ordered scans, each stopping at the limit: unclaimed occurrences (a partial
  // index holds only unclaimed active jobs, so the thousands already claimed within the horizon
  // are never visited — one scan over them and a sort took 11 ms a tick at 5,000 firings/s),
  // manual triggers, and, when asked, claims whose lease ran out (a replica died).
  //
  // The claimed rows are updated by primary key (`= ANY(ARRAY(…))`): joined to the CTE, the
  // planner hashed the few thousand ids and scanned the whole jobs table for them — every tick,
  // so a claim cost grew with every job stored (11,000 pages read to claim 2,000 of 50,000).
  // Prepared: planned once per connection, not four times a second (planning took 1–17 ms).
  const { rows } = await ctx.pool.query<HeldRow & { db_now: Date }>({
    name: ctx.statement("claim_due"),
    text: `WITH unclaimed AS (
       SELECT id FROM ${ctx.t.jobs}
       WHERE state = 'active' AND claimed_by IS NULL AND next_run_at <= now() + $2 * interval '1 millisecond'
       ORDER BY next_run_at
       LIMIT $4
       FOR UPDATE SKIP LOCKED
     ), triggered AS (
       SELECT id FROM ${ctx.t.jobs}
       WHERE trigger_at <= now() + $2 * interval '1 millisecond'
         AND (claimed_by IS NULL OR claim_expires_at <= now())
       ORDER BY trigger_at
       LIMIT $4
       FOR UPDATE SKIP LOCKED
     ), expired AS (
       SELECT id FROM ${ctx.t.jobs}
       WHERE $5::boolean AND state = 'active' AND next_run_at <= now() + $2 * interval '1 millisecond'
         AND claim_expires_at <= now()
       ORDER BY next_run_at
       LIMIT $4
       FOR UPDATE SKIP LOCKED
     ), due AS (
       SELECT id FROM unclaimed UNION SELECT id FROM triggered UNION SELECT id FROM expired
     ), claimed AS (
       UPDATE ${ctx.t.jobs} AS j SET claimed_by = $1, claim_expires_at = now() + $3 * interval '1 millisecond'
       WHERE j.id = ANY(ARRAY(SELECT id FROM due))
       RETURNING ${heldColumns.replace(/(\w+)/g, "j.$1")}
     )
     SELECT now() AS db_now, claimed.* FROM (SELECT 1) AS one LEFT JOIN claimed ON true`,
    values: [owner, options.horizonMs, options.leaseMs, options.limit, options.includeExpired ?? true],
  });
  const dbNow = rows[0]!.db_now;
  const claimed = rows.filter((r) => r.id !== null);
  const overdue = claimed.filter(
    (r) => r.state === "active" && r.next_fire_by !== null && r.next_fire_by < dbNow,
  );
  let missed: MissedOccurrences[] = [];
  let settled = new Map<string, HeldRow>();
  if (overdue.length > 0) {
    const result = await settleOverdue(
      ctx,
      owner,
      options,
      overdue.map((r) => r.id),
    );
    missed = result.missed;
    settled = new Map(result.rows.map((r) => [r.id, r]));
  }
  const jobs: ClaimedJob[] = [];
  for (const row of claimed) {
    const current = overdue.some((r) => r.id === row.id) ? settled.get(row.id) : row;
    const job = current && claimedJobOf(current, dbNow, options.horizonMs);
    if (job) jobs.push(job);
  }
  return { dbNow, jobs, missed };
}

async function settleOverdue(
  ctx: StoreContext,
  owner: string,
  options: ClaimOptions,
  ids: readonly string[],
): Promise<{ rows: HeldRow[]; missed: MissedOccurrences[] }> {
  return inTransaction(ctx.pool, async (client) => {
    const held = await lockHeld(client, ctx, owner, ids);
    const now = held.now;
    const runs: NewRun[] = [];
    const missed: MissedOccurrences[] = [];
    const progress = held.rows.map(progressOf);
    for (const p of progress) {
      const m = settleMisfire(p, now, runs);
      if (m) missed.push(m);
      decideClaim(p, now, options.horizonMs);
    }
    await insertRuns(client, ctx, owner, runs);
    const rows = await writeProgress(client, ctx, owner, options.leaseMs, progress);
    return { rows, missed };
  });
}

/** A definition the caller already holds, and the job version it belongs to. */
export interface KnownDefinition {
  readonly version: number;
  readonly definition: JobDefinition;
}

/**
 * Locks the given jobs this owner holds, in id order (so concurrent batches cannot deadlock).
 *
 * A job whose definition the caller holds (`known`, by job id) is read without it when its
 * version is still the one given — checked under the row lock — and given the caller's: the
 * definition is the only JSON a held row carries, and re-reading and parsing it for every
 * completed occurrence cost as much as the rest of the row. A changed version reads it as stored.
 */
export async function lockHeld(
  client: pg.PoolClient,
  ctx: StoreContext,
  owner: string,
  ids: readonly string[],
  known?: ReadonlyMap<string, KnownDefinition>,
): Promise<{ rows: HeldRow[]; now: Date }> {
  // ORDER BY then FOR UPDATE: the rows are locked in id order (LockRows runs above the sort), and
  // a row changed meanwhile is re-read, the CASE with it, so the version compared is the locked one.
  const { rows } = await client.query<HeldRow & { now: Date }>({
    name: ctx.statement("lock_held"),
    text: `SELECT ${heldColumns.replace(/(\w+)/g, "j.$1").replace("j.definition", "CASE WHEN j.version = k.version THEN NULL ELSE j.definition END AS definition")}, now() AS now
           FROM ${ctx.t.jobs} AS j JOIN unnest($1::text[], $3::int[]) AS k(id, version) ON j.id = k.id
           WHERE j.claimed_by = $2 ORDER BY j.id FOR UPDATE OF j`,
    values: [ids, owner, ids.map((id) => known?.get(id)?.version ?? -1)],
  });
  for (const row of rows) {
    if (row.definition === null) row.definition = known!.get(row.id)!.definition;
  }
  const now = rows[0]?.now ?? (await client.query<{ now: Date }>("SELECT now() AS now")).rows[0]!.now;
  return { rows, now };
}

/**
 * Extends this owner's claims (all, or the given jobs) to now + lease. Returns the ids still
 * held: a job missing from the answer was taken over (or released) — drop its timers.
 */
export async function renewClaims(
  ctx: StoreContext,
  owner: string,
  leaseMs: number,
  jobIds?: readonly string[],
): Promise<string[]> {
  // A join against the ids, not `id = ANY($3) OR $3 IS NULL`: that form defeats the primary key
  // and compares every claimed row with every id — 25,000 held jobs took 20 s of CPU and held
  // their row locks all along, stalling completions (found in bench/scheduler).
  //
  // The rows are locked in id order first, as a completion locks them (`lockHeld`): updated
  // straight from a join they were locked in the plan's order (a hash join's is the table's),
  // and a renewal of thousands of claims deadlocked with a completion of the same replica
  // (seen in bench/scheduler; the completion's 2,000 runs were rolled back and written again).
  const { rows } =
    jobIds === undefined
      ? await ctx.pool.query<{ id: string }>(
          `UPDATE ${ctx.t.jobs} AS j SET claim_expires_at = now() + $2 * interval '1 millisecond'
           FROM (SELECT id FROM ${ctx.t.jobs} WHERE claimed_by = $1 ORDER BY id FOR UPDATE) AS l
           WHERE j.id = l.id RETURNING j.id`,
          [owner, leaseMs],
        )
      : await ctx.pool.query<{ id: string }>({
          name: ctx.statement("renew"),
          text: `UPDATE ${ctx.t.jobs} AS j SET claim_expires_at = now() + $2 * interval '1 millisecond'
                 FROM (SELECT id FROM ${ctx.t.jobs} WHERE id = ANY($3::text[]) AND claimed_by = $1
                       ORDER BY id FOR UPDATE) AS l
                 WHERE j.id = l.id RETURNING j.id`,
          values: [owner, leaseMs, jobIds],
        });
  return rows.map((r) => r.id);
}

/** Gives up this owner's claims (all, or the given jobs), e.g. at shutdown, so others fire them at once. */
export async function releaseClaims(
  ctx: StoreContext,
  owner: string,
  jobIds?: readonly string[],
): Promise<number> {
  // Locked in id order, like renewals and completions (see renewClaims).
  const result =
    jobIds === undefined
      ? await ctx.pool.query(
          `UPDATE ${ctx.t.jobs} AS j SET claimed_by = NULL, claim_expires_at = NULL
           FROM (SELECT id FROM ${ctx.t.jobs} WHERE claimed_by = $1 ORDER BY id FOR UPDATE) AS l
           WHERE j.id = l.id`,
          [owner],
        )
      : await ctx.pool.query(
          `UPDATE ${ctx.t.jobs} AS j SET claimed_by = NULL, claim_expires_at = NULL
           FROM (SELECT id FROM ${ctx.t.jobs} WHERE id = ANY($2::text[]) AND claimed_by = $1
                 ORDER BY id FOR UPDATE) AS l
           WHERE j.id = l.id`,
          [owner, jobIds],
        );
  return result.rowCount ?? 0;
}
