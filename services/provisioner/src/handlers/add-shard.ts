import type { EventOf, HandlerContext } from "@dbplane/bus";
import type { addShard } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { DatabaseAdmin } from "../databases/database-admin.ts";
import { orDeadLetter } from "./domain-verdict.ts";

/**
 * `add-shard`: the same change as its HTTP route, with the command's id as the operation id, so
 * a redelivered command finds its operation and changes nothing (`unchanged`).
 */
export function addShardHandler(admin: DatabaseAdmin, logger: Logger) {
  return async (event: EventOf<typeof addShard>, ctx: HandlerContext): Promise<void> => {
    const result = await orDeadLetter("add-shard", () =>
      admin.addShards(event.data.name, event.data.count, event.id),
    );
    logger.info({ ...result, msgId: ctx.msgId }, "add-shard handled");
  };
}
