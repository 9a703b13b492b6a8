import {
  ParkedNotFoundError,
  ParkedResolvedError,
  RebuildInProgressError,
  RetryFailedError,
} from "@dbplane/projections";
import { ConflictError, HttpError, NotFoundError, ValidationError } from "@dbplane/service-kit";
import { InvalidCursorError } from "../domain/audit-cursor.ts";

/** Runs a route's work, turning the coordinator's errors into the HTTP errors they mean. */
export async function asHttp<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ParkedNotFoundError) throw new NotFoundError(err.message, { cause: err });
    if (err instanceof ParkedResolvedError || err instanceof RebuildInProgressError) {
      throw new ConflictError(err.message, { cause: err });
    }
    // The handler still fails: the request was fine, the event cannot be applied (yet).
    if (err instanceof RetryFailedError)
      throw new HttpError(422, "RETRY_FAILED", err.message, { cause: err });
    if (err instanceof InvalidCursorError) {
      throw new ValidationError(err.message, {
        cause: err,
        errors: [{ field: "query.cursor", message: err.message }],
      });
    }
    throw err;
  }
}
