import type pg from "pg";
import type { HttpTarget } from "../domain/job-definition.ts";
import { OverlapPolicy } from "../domain/limits.ts";
import type { StoreContext } from "./store-context.ts";

/** A fired occurrence of an http job, handed to the delivery workers. */
export interface NewDelivery {
  readonly jobId: string;
  readonly scheduledAt: Date;
  readonly target: HttpTarget;
  /** No attempt starts after this: scheduledAt + maxLatenessMs. */
  readonly deliverBy: Date;
}

export const SKIPPED_ERROR = "skipped: the previous delivery of the job was still pending or running";

/** Why a delivery was queued in a state other than `pending`, by the job's overlap policy. */
type QueuedState = "pending" | "buffered" | "skipped";

/**
 * Queues deliveries in the transaction that records their runs (so a fired http occurrence has
 * its delivery exactly when it has its run), applying each job's overlap policy against the
 * deliveries still open. The caller holds the jobs' rows locked, so two batches of the same job
 * never decide at once; deliveries must be in scheduled order per job. A delivery that exists
 * already (a repeated completion) is left as it is.
 */
export async function queueDeliveries(
  client: pg.PoolClient,
  ctx: StoreContext,
  deliveries: readonly NewDelivery[],
): Promise<number> {
  if (deliveries.length === 0) return 0;
  const guarded = [
    ...new Set(deliveries.filter((d) => d.target.overlap !== OverlapPolicy.allowAll).map((d) => d.jobId)),
  ];
  const open = new Map<string, { active: boolean; buffered: boolean }>();
  if (guarded.length > 0) {
    const { rows } = await client.query<{ job_id: string; buffered: boolean }>(
      `SELECT job_id, bool_or(state = 'buffered') AS buffered FROM ${ctx.t.deliveries}
       WHERE job_id = ANY($1::text[]) AND state IN ('pending', 'running', 'buffered') GROUP BY job_id`,
      [guarded],
    );
    for (const r of rows) open.set(r.job_id, { active: true, buffered: r.buffered });
  }
  const states = deliveries.map((d): QueuedState => {
    const policy = d.target.overlap;
    if (policy === OverlapPolicy.allowAll) return "pending";
    const seen = open.get(d.jobId) ?? { active: false, buffered: false };
    open.set(d.jobId, seen);
    if (!seen.active) {
      seen.active = true;
      return "pending";
    }
    if (policy === OverlapPolicy.bufferOne && !seen.buffered) {
      seen.buffered = true;
      return "buffered";
    }
    return "skipped";
  });
  const result = await client.query(
    `INSERT INTO ${ctx.t.deliveries}
       (job_id, scheduled_at, state, target, max_attempts, next_attempt_at, deliver_by, last_error, finished_at)
     SELECT d.job_id, d.scheduled_at, d.state, d.target, d.max_attempts, now(), d.deliver_by,
            CASE WHEN d.state = 'skipped' THEN $7 END, CASE WHEN d.state = 'skipped' THEN now() END
     FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::jsonb[], $5::int[], $6::timestamptz[])
       AS d(job_id, scheduled_at, state, target, max_attempts, deliver_by)
     ON CONFLICT (job_id, scheduled_at) DO NOTHING`,
    [
      deliveries.map((d) => d.jobId),
      deliveries.map((d) => d.scheduledAt),
      states,
      deliveries.map((d) => JSON.stringify(d.target)),
      deliveries.map((d) => d.target.maxAttempts),
      deliveries.map((d) => d.deliverBy),
      SKIPPED_ERROR,
    ],
  );
  return result.rowCount ?? 0;
}
