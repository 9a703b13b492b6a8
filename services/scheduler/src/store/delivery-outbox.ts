import type { DeliveryFailure } from "../domain/delivery-policy.ts";
import type { StoreContext } from "./store-context.ts";

/** A delivery that ended and whose event (`job.delivered` or `job.delivery-failed`) is not yet published. */
export interface EndedDelivery {
  readonly jobId: string;
  readonly scheduledAt: Date;
  readonly state: "succeeded" | "failed";
  /** Attempts made (a lost one included). */
  readonly attempts: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  /** Why a failed delivery ended (null for one that ended before the reason was recorded). */
  readonly reason: DeliveryFailure | null;
  /** The last attempt's duration, when it finished. */
  readonly durationMs: number | null;
  readonly finishedAt: Date;
}

interface EndedRow {
  job_id: string;
  scheduled_at: Date;
  state: "succeeded" | "failed";
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  end_reason: DeliveryFailure | null;
  duration_ms: number | null;
  finished_at: Date;
}

function select(ctx: StoreContext, where: string): string {
  return `SELECT d.job_id, d.scheduled_at, d.state, d.attempts, d.last_status, d.last_error, d.end_reason,
            d.finished_at, a.duration_ms
     FROM ${ctx.t.deliveries} d
     LEFT JOIN ${ctx.t.deliveryAttempts} a
       ON a.job_id = d.job_id AND a.scheduled_at = d.scheduled_at AND a.attempt = d.attempts
     WHERE d.state IN ('succeeded', 'failed') AND d.announced_at IS NULL AND ${where}`;
}

/** One delivery if it ended and is not yet announced (the replica that just ended it asks). */
export async function endedDelivery(
  ctx: StoreContext,
  jobId: string,
  scheduledAt: Date,
): Promise<EndedDelivery | null> {
  const { rows } = await ctx.pool.query<EndedRow>(select(ctx, "d.job_id = $1 AND d.scheduled_at = $2"), [
    jobId,
    scheduledAt,
  ]);
  return rows[0] ? toEnded(rows[0]) : null;
}

/**
 * Up to `limit` deliveries that ended more than `graceMs` ago and are still not announced: the
 * replica that ended them died (or lost NATS) before publishing. Any replica may publish them;
 * the event id makes a second publish a duplicate JetStream drops.
 */
export async function orphanedEndedDeliveries(
  ctx: StoreContext,
  graceMs: number,
  limit: number,
): Promise<EndedDelivery[]> {
  const { rows } = await ctx.pool.query<EndedRow>(
    `${select(ctx, "d.finished_at < now() - $1 * interval '1 millisecond'")} ORDER BY d.finished_at LIMIT $2`,
    [graceMs, limit],
  );
  return rows.map(toEnded);
}

/** Records that a delivery's end was published (its run may be pruned from now on). */
export async function markAnnounced(ctx: StoreContext, jobId: string, scheduledAt: Date): Promise<void> {
  await ctx.pool.query(
    `UPDATE ${ctx.t.deliveries} SET announced_at = now()
     WHERE job_id = $1 AND scheduled_at = $2 AND announced_at IS NULL`,
    [jobId, scheduledAt],
  );
}

function toEnded(r: EndedRow): EndedDelivery {
  return {
    jobId: r.job_id,
    scheduledAt: r.scheduled_at,
    state: r.state,
    attempts: r.attempts,
    lastStatus: r.last_status,
    lastError: r.last_error,
    reason: r.end_reason,
    durationMs: r.duration_ms,
    finishedAt: r.finished_at,
  };
}
