import type { JobState } from "./job-rows.ts";

/** The operation does not apply to the job in its current state (resume a cancelled job). Maps to 409. */
export class JobStateConflictError extends Error {
  override readonly name = "JobStateConflictError";
  readonly code = "JOB_STATE_CONFLICT";
  readonly jobId: string;
  readonly state: JobState;

  constructor(jobId: string, state: JobState, operation: string) {
    super(`cannot ${operation} job ${JSON.stringify(jobId)}: it is ${state}`);
    this.jobId = jobId;
    this.state = state;
  }
}

/** A paging cursor that this store did not issue. Maps to 400 naming the `cursor` parameter. */
export class InvalidCursorError extends Error {
  override readonly name = "InvalidCursorError";
  readonly code = "INVALID_CURSOR";

  constructor(options: { cause?: unknown } = {}) {
    super("cursor is not one this API returned", options);
  }
}
