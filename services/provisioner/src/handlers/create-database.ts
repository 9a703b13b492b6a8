import type { EventOf, HandlerContext } from "@dbplane/bus";
import type { createDatabase } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { DatabaseAdmin } from "../databases/database-admin.ts";
import { orDeadLetter } from "./domain-verdict.ts";

/**
 * `create-database`: the same change as its HTTP route, with the command's id as the operation id, so
 * a redelivered command finds its operation and changes nothing (`unchanged`).
 */
export function createDatabaseHandler(admin: DatabaseAdmin, logger: Logger) {
  return async (event: EventOf<typeof createDatabase>, ctx: HandlerContext): Promise<void> => {
    const result = await orDeadLetter("create-database", () => admin.create(event.data, event.id));
    logger.info({ ...result, msgId: ctx.msgId }, "create-database handled");
  };
}
