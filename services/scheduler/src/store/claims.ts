import { inTransaction } from "@dbplane/service-kit";
import type pg from "pg";
import type { ClaimedJob, MissedOccurrences } from "./job-progress.ts";
import { claimedJobOf, decideClaim, progressOf, settleMisfire, writeProgress } from "./job-progress.ts";
import type { HeldRow } from "./job-rows.ts";
import { heldJobColumnsOf } from "./job-rows.ts";
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
   * Also take over claims whose lease ran out (default true). The firing loop asks for it about
   * once a second, not every tick: it matters only after a lease (15 s) has run out.
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
  // Three index-ordered scans, each stopping at the limit: unclaimed occurrences (jobs due with
  // no claim row), manual triggers, and, when asked, claims whose lease ran out (a replica died)
  // — those from the claims table's expiry index, so live claims are not read at all.
  //
  // The jobs found are locked (`FOR UPDATE SKIP LOCKED`, which also hands back the job as last
  // committed) but not written: the claim is a row of its own, inserted, or taken over only
  // while its lease is still over when the insert meets it (`ON CONFLICT … WHERE`, which sees
  // the latest committed claim) — so two replicas never both hold a job, and a holder that
  // renewed meanwhile keeps it. Claims are written in id order, as renewals lock them.
  // Prepared: planned once per connection, not four times a second (planning took 1–17 ms).
  const held = heldJobColumnsOf("j");
  const { rows } = await ctx.pool.query<HeldRow & { db_now: Date }>({
    name: ctx.statement("claim_due"),
    text: `WITH unclaimed AS (
       SELECT ${held} FROM ${ctx.t.jobs} AS j
       WHERE j.state = 'active' AND j.next_run_at <= now() + $2 * interval '1 millisecond'
         AND NOT EXISTS (SELECT 1 FROM ${ctx.t.claims} AS c WHERE c.job_id = j.id)
       ORDER BY j.next_run_at
       LIMIT $4
       FOR UPDATE OF j SKIP LOCKED
     ), triggered AS (
       SELECT ${held} FROM ${ctx.t.jobs} AS j
       WHERE j.trigger_at <= now() + $2 * interval '1 millisecond'
         AND NOT EXISTS (SELECT 1 FROM ${ctx.t.claims} AS c WHERE c.job_id = j.id AND c.expires_at > now())
       ORDER BY j.trigger_at
       LIMIT $4
       FOR UPDATE OF j SKIP LOCKED
     ), expired AS (
       SELECT ${held} FROM ${ctx.t.claims} AS c JOIN ${ctx.t.jobs} AS j ON j.id = c.job_id
       WHERE $5::boolean AND c.expires_at <= now()
         AND j.state = 'active' AND j.next_run_at <= now() + $2 * interval '1 millisecond'
       ORDER BY j.next_run_at
       LIMIT $4
       FOR UPDATE OF j SKIP LOCKED
     ), due AS (
       SELECT DISTINCT ON (id) * FROM (
         SELECT * FROM unclaimed UNION ALL SELECT * FROM triggered UNION ALL SELECT * FROM expired
       ) AS found ORDER BY id
     ), claimed AS (
       INSERT INTO ${ctx.t.claims} AS c (job_id, owner, expires_at)
       SELECT id, $1, now() + $3 * interval '1 millisecond' FROM due ORDER BY id
       ON CONFLICT (job_id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
         WHERE c.expires_at <= now()
       RETURNING c.job_id, c.expires_at
     )
     SELECT now() AS db_now, d.*, claimed.expires_at AS claim_expires_at
     FROM (SELECT 1) AS one LEFT JOIN (claimed JOIN due AS d ON d.id = claimed.job_id) ON true`,
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

/**
 * Locks the given jobs this owner holds, with their claims, in id order (so concurrent batches
 * cannot deadlock). The claim is locked too: read from the statement's snapshot alone, a claim
 * taken over just before the lock was granted would still look like ours.
 */
export async function lockHeld(
  client: pg.PoolClient,
  ctx: StoreContext,
  owner: string,
  ids: readonly string[],
): Promise<{ rows: HeldRow[]; now: Date }> {
  const { rows } = await client.query<HeldRow & { now: Date }>({
    name: ctx.statement("lock_held"),
    text: `SELECT ${heldJobColumnsOf("j")}, c.expires_at AS claim_expires_at, now() AS now
           FROM ${ctx.t.jobs} AS j JOIN ${ctx.t.claims} AS c ON c.job_id = j.id
           WHERE j.id = ANY($1::text[]) AND c.owner = $2 ORDER BY j.id FOR UPDATE OF j, c`,
    values: [ids, owner],
  });
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
  // and compares every claim with every id (25,000 held jobs took 20 s of CPU, found in
  // bench/scheduler). The claims are locked in id order first, as completions lock them
  // (`lockHeld`): updated straight from a join they were locked in the plan's order, and a
  // renewal of thousands deadlocked with a completion of the same replica. Only the narrow
  // claim rows are written; the jobs are not touched.
  const { rows } =
    jobIds === undefined
      ? await ctx.pool.query<{ id: string }>(
          `UPDATE ${ctx.t.claims} AS c SET expires_at = now() + $2 * interval '1 millisecond'
           FROM (SELECT job_id FROM ${ctx.t.claims} WHERE owner = $1 ORDER BY job_id FOR UPDATE) AS l
           WHERE c.job_id = l.job_id RETURNING c.job_id AS id`,
          [owner, leaseMs],
        )
      : await ctx.pool.query<{ id: string }>({
          name: ctx.statement("renew"),
          text: `UPDATE ${ctx.t.claims} AS c SET expires_at = now() + $2 * interval '1 millisecond'
                 FROM (SELECT job_id FROM ${ctx.t.claims} WHERE job_id = ANY($3::text[]) AND owner = $1
                       ORDER BY job_id FOR UPDATE) AS l
                 WHERE c.job_id = l.job_id RETURNING c.job_id AS id`,
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
          `DELETE FROM ${ctx.t.claims} AS c
           USING (SELECT job_id FROM ${ctx.t.claims} WHERE owner = $1 ORDER BY job_id FOR UPDATE) AS l
           WHERE c.job_id = l.job_id`,
          [owner],
        )
      : await ctx.pool.query(
          `DELETE FROM ${ctx.t.claims} AS c
           USING (SELECT job_id FROM ${ctx.t.claims} WHERE job_id = ANY($2::text[]) AND owner = $1
                  ORDER BY job_id FOR UPDATE) AS l
           WHERE c.job_id = l.job_id`,
          [owner, jobIds],
        );
  return result.rowCount ?? 0;
}
