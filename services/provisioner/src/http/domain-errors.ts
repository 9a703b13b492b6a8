import { ConflictError, NotFoundError, ValidationError } from "@dbplane/service-kit";
import { DatabaseConflictError, DatabaseNotFoundError, InvalidChangeError } from "../domain/errors.ts";

/** Runs `work`, turning the provisioner's domain errors into the HTTP errors they mean. */
export async function asHttp<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof DatabaseNotFoundError) throw new NotFoundError(err.message, { cause: err });
    if (err instanceof DatabaseConflictError) throw new ConflictError(err.message, { cause: err });
    if (err instanceof InvalidChangeError) {
      throw new ValidationError(err.message, {
        cause: err,
        errors: [{ field: `body.${err.field}`, message: err.message }],
      });
    }
    throw err;
  }
}
