import { PermanentError } from "@dbplane/bus";
import { DatabaseConflictError, DatabaseNotFoundError, InvalidChangeError } from "../domain/errors.ts";

/**
 * Runs a command's work. A command the desired state refuses (unknown database, conflicting spec,
 * an impossible change) can never succeed: PermanentError sends it to the DLQ with the reason.
 * Anything else (PostgreSQL down) is thrown as is and retried by the bus with backoff.
 */
export async function orDeadLetter<T>(command: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (
      err instanceof DatabaseNotFoundError ||
      err instanceof DatabaseConflictError ||
      err instanceof InvalidChangeError
    ) {
      throw new PermanentError(`${command} refused: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
