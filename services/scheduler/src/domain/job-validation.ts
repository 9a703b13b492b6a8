import { DomainError, ERROR_KINDS, type FieldIssue } from "@dbplane/contracts";
import type { z } from "zod";
import type { JobDefinition } from "./job-definition.ts";
import { jobDefinition } from "./job-definition.ts";
import { firstOccurrence } from "./occurrences.ts";

/** A job definition was refused; `issues` names every field (inside the definition) at fault. */
export class JobValidationError extends DomainError {
  override readonly name = "JobValidationError";

  constructor(issues: readonly FieldIssue[], options: { cause?: unknown } = {}) {
    super(
      ERROR_KINDS.invalid,
      "JOB_INVALID",
      `invalid job: ${issues.map((e) => `${e.field || "(job)"} ${e.message}`).join("; ")}`,
      { ...options, issues },
    );
  }
}

function fieldErrors(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({ field: issue.path.map(String).join("."), message: issue.message }));
}

/**
 * Validates a caller's job definition and applies defaults. Static checks only; time-relative
 * ones need the database's clock, see {@link checkSchedulable}.
 * @throws JobValidationError naming each field at fault.
 */
export function parseJobDefinition(input: unknown): JobDefinition {
  const parsed = jobDefinition.safeParse(input);
  if (!parsed.success) throw new JobValidationError(fieldErrors(parsed.error), { cause: parsed.error });
  return parsed.data;
}

/**
 * Refuses a job that could never fire, seen at `now` (the database's clock): a one-shot more
 * than `maxLatenessMs` in the past (`schedule.at`), a window already over (`endAt`), a cron
 * that never matches (`schedule.expression`). Returns the first occurrence otherwise.
 * @throws JobValidationError naming the field.
 */
export function checkSchedulable(job: JobDefinition, now: Date): Date {
  const first = firstOccurrence(job, now);
  if (first) return first;
  const s = job.schedule;
  if (s.kind === "at" && Date.parse(s.at) < now.getTime() - job.maxLatenessMs) {
    throw new JobValidationError([
      { field: "schedule.at", message: `is more than maxLatenessMs (${job.maxLatenessMs} ms) in the past` },
    ]);
  }
  if (job.endAt && Date.parse(job.endAt) <= now.getTime()) {
    throw new JobValidationError([{ field: "endAt", message: "is in the past: the job would never fire" }]);
  }
  const field = s.kind === "cron" ? "schedule.expression" : s.kind === "at" ? "schedule.at" : "schedule";
  throw new JobValidationError([{ field, message: "has no occurrence within the job's window" }]);
}
