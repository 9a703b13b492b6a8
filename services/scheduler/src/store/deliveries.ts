import type { DeliveryFailure } from "../domain/delivery-policy.ts";
import type { HttpTarget } from "../domain/job-definition.ts";
import type { StoreContext } from "./store-context.ts";

export type DeliveryState = "pending" | "running" | "buffered" | "succeeded" | "failed" | "skipped";

/** A delivery a worker claimed: make attempt `attempt` now, unless it is past `deliverBy` or `maxAttempts`. */
export interface ClaimedDelivery {
  readonly jobId: string;
  readonly scheduledAt: Date;
  readonly target: HttpTarget;
  /** This attempt's number (1 for the first); above `maxAttempts` when the last one was lost. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly deliverBy: Date;
  /** The previous attempt's replica died with it (its lease ran out): that attempt is recorded `lost`. */
  readonly previousLost: boolean;
  /** The database's now at the claim. */
  readonly dbNow: Date;
}

/** What a worker records when it is done with a claimed delivery (for now or for good). */
export interface DeliveryFinish {
  readonly jobId: string;
  readonly scheduledAt: Date;
  readonly attempt: number;
  /** `pending` to retry after `retryInMs`; the others are final. */
  readonly state: "pending" | "succeeded" | "failed";
  readonly retryInMs?: number;
  /** The attempt's result; absent when none was made (past deliverBy, no attempt left). */
  readonly result?: { outcome: string; statusCode: number | null; durationMs: number; error: string | null };
  /** The delivery's error when final without a result of its own. */
  readonly error?: string;
  /** Why it ended, when `failed`. */
  readonly reason?: DeliveryFailure;
}

export const LOST_ATTEMPT_ERROR = "lost: the replica making it stopped before recording it (lease ran out)";

/**
 * Claims up to `limit` deliveries due now (`FOR UPDATE SKIP LOCKED`: replicas take disjoint
 * sets) and starts an attempt of each: the attempt count goes up, an attempt row is written, and
 * the delivery is leased for the target's timeout plus `leaseMarginMs` — a replica that dies
 * mid-attempt leaves it to be claimed again after that. A buffered delivery is due once its job
 * has nothing else pending or running.
 */
export async function claimDeliveries(
  ctx: StoreContext,
  owner: string,
  limit: number,
  leaseMarginMs: number,
): Promise<ClaimedDelivery[]> {
  const d = ctx.t.deliveries;
  const { rows } = await ctx.pool.query<{
    job_id: string;
    scheduled_at: Date;
    target: HttpTarget;
    attempts: number;
    max_attempts: number;
    deliver_by: Date;
    was: string;
    db_now: Date;
  }>(
    `WITH due AS (
       SELECT job_id, scheduled_at, state AS was FROM ${d} AS q
       WHERE state IN ('pending', 'running', 'buffered') AND next_attempt_at <= now()
         AND (state <> 'buffered' OR NOT EXISTS (
           SELECT 1 FROM ${d} AS o WHERE o.job_id = q.job_id AND o.state IN ('pending', 'running')))
       ORDER BY next_attempt_at
       LIMIT $2
       FOR UPDATE SKIP LOCKED
     ), claimed AS (
       UPDATE ${d} AS x SET state = 'running', attempts = x.attempts + 1, claimed_by = $1,
         next_attempt_at = now() + ((x.target->>'timeoutMs')::int + $3) * interval '1 millisecond',
         updated_at = now()
       FROM due WHERE x.job_id = due.job_id AND x.scheduled_at = due.scheduled_at
       RETURNING x.job_id, x.scheduled_at, x.target, x.attempts, x.max_attempts, x.deliver_by, due.was
     ), lost AS (
       UPDATE ${ctx.t.deliveryAttempts} AS a SET outcome = 'lost', error = $4, finished_at = now()
       FROM claimed AS c
       WHERE c.was = 'running' AND a.job_id = c.job_id AND a.scheduled_at = c.scheduled_at
         AND a.outcome IS NULL
     ), started AS (
       INSERT INTO ${ctx.t.deliveryAttempts} (job_id, scheduled_at, attempt, replica)
       SELECT job_id, scheduled_at, attempts, $1 FROM claimed
       WHERE attempts <= max_attempts AND deliver_by > now()
     )
     SELECT *, now() AS db_now FROM claimed`,
    [owner, limit, leaseMarginMs, LOST_ATTEMPT_ERROR],
  );
  return rows.map((r) => ({
    jobId: r.job_id,
    scheduledAt: r.scheduled_at,
    target: r.target,
    attempt: r.attempts,
    maxAttempts: r.max_attempts,
    deliverBy: r.deliver_by,
    previousLost: r.was === "running",
    dbNow: r.db_now,
  }));
}

/**
 * Records an attempt's result and the delivery's new state, only while this owner still holds
 * that attempt (a replica whose lease ran out and whose delivery another one took changes
 * nothing). A delivery given up without an attempt does not count the one it was claimed for.
 * @returns whether it was recorded.
 */
export async function finishDelivery(ctx: StoreContext, owner: string, f: DeliveryFinish): Promise<boolean> {
  const { rowCount } = await ctx.pool.query(
    `WITH attempt AS (
       UPDATE ${ctx.t.deliveryAttempts} SET outcome = $6, status_code = $7, duration_ms = $8, error = $9,
         finished_at = now()
       WHERE $6::text IS NOT NULL AND job_id = $1 AND scheduled_at = $2 AND attempt = $3 AND outcome IS NULL
     )
     UPDATE ${ctx.t.deliveries} SET state = $5,
       attempts = CASE WHEN $6::text IS NULL THEN attempts - 1 ELSE attempts END,
       next_attempt_at = now() + $10 * interval '1 millisecond',
       last_status = COALESCE($7, last_status), last_error = COALESCE($9, $11),
       claimed_by = NULL, updated_at = now(),
       finished_at = CASE WHEN $5 = 'pending' THEN NULL ELSE now() END,
       end_reason = $12
     WHERE job_id = $1 AND scheduled_at = $2 AND attempts = $3 AND claimed_by = $4 AND state = 'running'`,
    [
      f.jobId,
      f.scheduledAt,
      f.attempt,
      owner,
      f.state,
      f.result?.outcome ?? null,
      f.result?.statusCode ?? null,
      f.result === undefined ? null : Math.round(f.result.durationMs),
      f.result?.error ?? null,
      Math.max(0, Math.round(f.retryInMs ?? 0)),
      f.error ?? null,
      f.state === "failed" ? (f.reason ?? null) : null,
    ],
  );
  return (rowCount ?? 0) > 0;
}

/** A delivery with its attempts, oldest attempt first. */
export interface DeliveryRecord {
  readonly jobId: string;
  readonly scheduledAt: Date;
  readonly state: DeliveryState;
  readonly attemptCount: number;
  readonly maxAttempts: number;
  /** When a pending delivery's next attempt is due (null once it ended). */
  readonly nextAttemptAt: Date | null;
  readonly deliverBy: Date;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly finishedAt: Date | null;
  readonly attempts: readonly {
    attempt: number;
    replica: string;
    startedAt: Date;
    finishedAt: Date | null;
    outcome: string | null;
    statusCode: number | null;
    durationMs: number | null;
    error: string | null;
  }[];
}

/** One occurrence's delivery and attempts, or null (not an http job's fired run, or pruned). */
export async function getDelivery(
  ctx: StoreContext,
  jobId: string,
  scheduledAt: Date,
): Promise<DeliveryRecord | null> {
  const { rows } = await ctx.pool.query(
    `SELECT d.*, COALESCE((SELECT json_agg(a ORDER BY a.attempt) FROM ${ctx.t.deliveryAttempts} a
                           WHERE a.job_id = d.job_id AND a.scheduled_at = d.scheduled_at), '[]') AS attempt_rows
     FROM ${ctx.t.deliveries} d WHERE d.job_id = $1 AND d.scheduled_at = $2`,
    [jobId, scheduledAt],
  );
  const r = rows[0];
  if (!r) return null;
  const date = (v: string | null) => (v === null ? null : new Date(v));
  return {
    jobId: r.job_id,
    scheduledAt: r.scheduled_at,
    state: r.state,
    attemptCount: r.attempts,
    maxAttempts: r.max_attempts,
    nextAttemptAt: ["pending", "running", "buffered"].includes(r.state) ? r.next_attempt_at : null,
    deliverBy: r.deliver_by,
    lastStatus: r.last_status,
    lastError: r.last_error,
    finishedAt: r.finished_at,
    attempts: (r.attempt_rows as Record<string, string | number | null>[]).map((a) => ({
      attempt: Number(a.attempt),
      replica: String(a.replica),
      startedAt: new Date(String(a.started_at)),
      finishedAt: date(a.finished_at as string | null),
      outcome: a.outcome as string | null,
      statusCode: a.status_code as number | null,
      durationMs: a.duration_ms as number | null,
      error: a.error as string | null,
    })),
  };
}
