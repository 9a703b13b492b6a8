import { DomainError, ERROR_KINDS } from "@dbplane/contracts";
import type { JobState } from "./job-rows.ts";

/** The operation does not apply to the job in its current state (resume a cancelled job). */
export class JobStateConflictError extends DomainError {
  override readonly name = "JobStateConflictError";
  readonly jobId: string;
  readonly state: JobState;

  constructor(jobId: string, state: JobState, operation: string) {
    super(
      ERROR_KINDS.conflict,
      "JOB_STATE_CONFLICT",
      `cannot ${operation} job ${JSON.stringify(jobId)}: it is ${state}`,
    );
    this.jobId = jobId;
    this.state = state;
  }
}

/** A paging cursor that this store did not issue; the field is the `cursor` parameter. */
export class InvalidCursorError extends DomainError {
  override readonly name = "InvalidCursorError";

  constructor(options: { cause?: unknown } = {}) {
    super(ERROR_KINDS.invalid, "INVALID_CURSOR", "cursor is not one this API returned", {
      ...options,
      field: "cursor",
    });
  }
}

/** The owner already has as many live (active or paused) jobs as one owner may. */
export class JobQuotaError extends DomainError {
  override readonly name = "JobQuotaError";
  readonly owner: string;

  constructor(owner: string, max: number) {
    super(
      ERROR_KINDS.conflict,
      "JOB_QUOTA_EXCEEDED",
      `${JSON.stringify(owner)} already has ${max} active or paused jobs, the most one owner may have: cancel some first`,
    );
    this.owner = owner;
  }
}
