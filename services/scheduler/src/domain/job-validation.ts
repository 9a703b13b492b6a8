import type { z } from "zod";
import type { JobDefinition } from "./job-definition.ts";
import { jobDefinition } from "./job-definition.ts";
import { firstOccurrence } from "./occurrences.ts";

/** One refused field, by dotted path inside the job definition (`schedule.expression`). */
export interface JobFieldError {
  readonly field: string;
  readonly message: string;
}

/** A job definition was refused; `errors` names every field at fault. Maps to HTTP 400. */
export class JobValidationError extends Error {
  override readonly name = "JobValidationError";
  readonly code = "JOB_INVALID";
  readonly errors: readonly JobFieldError[];

  constructor(errors: readonly JobFieldError[], options: { cause?: unknown } = {}) {
    super(`invalid job: ${errors.map((e) => `${e.field || "(job)"} ${e.message}`).join("; ")}`, options);
    this.errors = errors;
  }
}

function fieldErrors(error: z.ZodError): JobFieldError[] {
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
