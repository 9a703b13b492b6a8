import type { EventOf, HandlerContext } from "@dbplane/bus";
import type { createDatabase } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { DatabaseAdmin } from "../databases/database-admin.ts";

/**
 * `create-database`: the same change as its HTTP route, with the command's id as the operation id, so
 * a redelivered command finds its operation and changes nothing (`unchanged`). A refusal (unknown
 * database, conflicting spec, impossible change: a DomainError) is dead-lettered by the bus at once;
 * anything else (PostgreSQL down) is retried with backoff.
 */
export function createDatabaseHandler(admin: DatabaseAdmin, logger: Logger) {
  return async (event: EventOf<typeof createDatabase>, ctx: HandlerContext): Promise<void> => {
    const result = await admin.create(event.data, event.id);
    logger.info({ ...result, msgId: ctx.msgId }, "create-database handled");
  };
}
