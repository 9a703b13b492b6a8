import type { JobState } from "./job-rows.ts";
import type { StoreContext } from "./store-context.ts";

export interface SchedulerStats {
  /** Occurrences (and triggers) due by the database's now that are not settled yet: the HPA's metric. */
  readonly dueBacklog: number;
  /** Jobs under an unexpired claim, by owner. */
  readonly claimsByOwner: Readonly<Record<string, number>>;
  /** Claims whose lease ran out and that nobody has taken over yet (a replica died). */
  readonly expiredClaims: number;
  readonly jobsByState: Readonly<Partial<Record<JobState, number>>>;
}

/** Gauges for `/metrics`; cheap enough to run every scrape (index-backed, one round trip each). */
export async function schedulerStats(ctx: StoreContext): Promise<SchedulerStats> {
  const [due, claims, states] = await Promise.all([
    ctx.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${ctx.t.jobs}
       WHERE (state = 'active' AND next_run_at <= now()) OR trigger_at <= now()`,
    ),
    ctx.pool.query<{ owner: string; expired: boolean; n: string }>(
      `SELECT claimed_by AS owner, claim_expires_at <= now() AS expired, count(*) AS n
       FROM ${ctx.t.jobs} WHERE claimed_by IS NOT NULL GROUP BY 1, 2`,
    ),
    ctx.pool.query<{ state: JobState; n: string }>(
      `SELECT state, count(*) AS n FROM ${ctx.t.jobs} GROUP BY state`,
    ),
  ]);
  const claimsByOwner: Record<string, number> = {};
  let expiredClaims = 0;
  for (const row of claims.rows) {
    if (row.expired) expiredClaims += Number(row.n);
    else claimsByOwner[row.owner] = (claimsByOwner[row.owner] ?? 0) + Number(row.n);
  }
  return {
    dueBacklog: Number(due.rows[0]?.n ?? 0),
    claimsByOwner,
    expiredClaims,
    jobsByState: Object.fromEntries(states.rows.map((r) => [r.state, Number(r.n)])),
  };
}
