import type { EventOf, HandlerContext } from "@dbplane/bus";
import type { cancelJob } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { JobAdmin } from "../jobs/job-admin.ts";
import { asService, commandOwner } from "./schedule-job.ts";

/**
 * `cancel-job`: cancels the job. Idempotent; cancelling a job that does not exist is done
 * (the caller's intent — no such job fires — holds), so it is acked with a log line, not
 * dead-lettered. A service may cancel only jobs whose target it may have itself (else DLQ).
 */
export function cancelJobHandler(jobs: JobAdmin, logger: Logger) {
  return async (event: EventOf<typeof cancelJob>, ctx: HandlerContext): Promise<void> => {
    const job = await asService(() => jobs.cancel(event.data.id, commandOwner(event.source)));
    if (job) logger.info({ jobId: job.id, msgId: ctx.msgId }, "job cancelled by command");
    else logger.warn({ jobId: event.data.id, msgId: ctx.msgId }, "cancel-job for an unknown job");
  };
}
