import type { EventOf, HandlerContext } from "@dbplane/bus";
import type { removeShard } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { DatabaseAdmin } from "../databases/database-admin.ts";

/**
 * `remove-shard`: the same change as its HTTP route, with the command's id as the operation id, so
 * a redelivered command finds its operation and changes nothing (`unchanged`). A refusal (unknown
 * database, not the last shard, a shard that owns a range or of a map never seen: a DomainError)
 * is dead-lettered by the bus at once with the reason; anything else is retried with backoff.
 */
export function removeShardHandler(admin: DatabaseAdmin, logger: Logger) {
  return async (event: EventOf<typeof removeShard>, ctx: HandlerContext): Promise<void> => {
    const result = await admin.removeShard(event.data.name, event.data.shard, event.id);
    logger.info({ ...result, shard: event.data.shard, msgId: ctx.msgId }, "remove-shard handled");
  };
}
