import type { EventOf, HandlerContext } from "@dbplane/bus";
import type { scheduleJob } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { JobAdmin } from "../jobs/job-admin.ts";
import type { JobOwner } from "../store/job-rows.ts";

/**
 * The owner of a job scheduled by command: the sending service, trusted as `admin` — who may
 * send `schedule-job` at all is NATS's permissions' to decide (services schedule their periodic
 * commands this way, e.g. the router's rebalance check).
 */
export function commandOwner(source: string): JobOwner {
  return { id: `service:${source}`, scopes: ["admin"] };
}

/**
 * `schedule-job`: upserts the job. Idempotent (the same definition again is `unchanged`). A
 * definition the contract accepts but the scheduler refuses (a cron value out of range, an `at`
 * already past, a subject no stream captures) can never succeed: its JobValidationError (a
 * DomainError of kind invalid) is dead-lettered by the bus with the fields. Anything else
 * (PostgreSQL or NATS unavailable) is retried by the bus with backoff.
 */
export function scheduleJobHandler(jobs: JobAdmin, logger: Logger) {
  return async (event: EventOf<typeof scheduleJob>, ctx: HandlerContext): Promise<void> => {
    const { outcome, job } = await jobs.upsert(event.data, commandOwner(event.source));
    logger.info({ jobId: job.id, outcome, msgId: ctx.msgId }, "job scheduled by command");
  };
}
