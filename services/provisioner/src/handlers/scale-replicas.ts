import type { EventOf, HandlerContext } from "@dbplane/bus";
import type { scaleReplicas } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { DatabaseAdmin } from "../databases/database-admin.ts";

/**
 * `scale-replicas`: the same change as its HTTP route, with the command's id as the operation id, so
 * a redelivered command finds its operation and changes nothing (`unchanged`). A refusal (unknown
 * database, conflicting spec, impossible change: a DomainError) is dead-lettered by the bus at once;
 * anything else (PostgreSQL down) is retried with backoff.
 */
export function scaleReplicasHandler(admin: DatabaseAdmin, logger: Logger) {
  return async (event: EventOf<typeof scaleReplicas>, ctx: HandlerContext): Promise<void> => {
    const result = await admin.scaleReplicas(
      event.data.name,
      event.data.shard,
      event.data.replicas,
      event.id,
    );
    logger.info({ ...result, msgId: ctx.msgId }, "scale-replicas handled");
  };
}
