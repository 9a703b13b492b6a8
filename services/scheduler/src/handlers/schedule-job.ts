import { type EventOf, type HandlerContext, PermanentError } from "@dbplane/bus";
import type { scheduleJob } from "@dbplane/contracts";
import { ForbiddenError, type Logger } from "@dbplane/service-kit";
import { serviceOwnerId } from "../domain/service-targets.ts";
import type { JobAdmin } from "../jobs/job-admin.ts";
import type { JobOwner } from "../store/job-rows.ts";

/**
 * The owner of a job scheduled by command: the sending service (`service:dbplane/<service>`),
 * holding no scope. It may have only targets it may publish itself — its own events and the
 * commands whose `sentBy` names it — so being allowed to send `schedule-job` (the router
 * schedules its rebalance check this way) lends it nothing it did not have.
 */
export function commandOwner(source: string): JobOwner {
  return { id: serviceOwnerId(source), scopes: [] };
}

/**
 * Runs a job change for a service; a target it may not have can never become allowed by
 * retrying, so it is dead-lettered with the reason instead of retried.
 */
export async function asService<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ForbiddenError) throw new PermanentError(err.message, { cause: err });
    throw err;
  }
}

/**
 * `schedule-job`: upserts the job. Idempotent (the same definition again is `unchanged`). A
 * definition the contract accepts but the scheduler refuses (a cron value out of range, an `at`
 * already past, a subject no stream captures, a target the sending service may not publish)
 * can never succeed: it is dead-lettered by the bus with the reason. Anything else (PostgreSQL
 * or NATS unavailable) is retried by the bus with backoff.
 */
export function scheduleJobHandler(jobs: JobAdmin, logger: Logger) {
  return async (event: EventOf<typeof scheduleJob>, ctx: HandlerContext): Promise<void> => {
    const { outcome, job } = await asService(() => jobs.upsert(event.data, commandOwner(event.source)));
    logger.info({ jobId: job.id, outcome, msgId: ctx.msgId }, "job scheduled by command");
  };
}
