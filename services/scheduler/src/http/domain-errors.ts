import { ConflictError, NotFoundError, ValidationError } from "@dbplane/service-kit";
import { JobValidationError } from "../domain/job-validation.ts";
import { InvalidCursorError, JobStateConflictError } from "../store/errors.ts";

/** Runs a route's work, turning the scheduler's errors into the HTTP errors they mean. */
export async function asHttp<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof JobValidationError) {
      throw new ValidationError(err.message, {
        cause: err,
        errors: err.errors.map((e) => ({ field: e.field ? `body.${e.field}` : "body", message: e.message })),
      });
    }
    if (err instanceof JobStateConflictError) throw new ConflictError(err.message, { cause: err });
    if (err instanceof InvalidCursorError) {
      throw new ValidationError(err.message, {
        cause: err,
        errors: [{ field: "query.cursor", message: err.message }],
      });
    }
    throw err;
  }
}

/** 404 for a job id that does not exist. */
export function found<T>(value: T | null, id: string): T {
  if (value === null) throw new NotFoundError(`no job ${JSON.stringify(id)}`);
  return value;
}
