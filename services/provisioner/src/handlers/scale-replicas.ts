import type { EventOf, HandlerContext } from "@dbplane/bus";
import type { scaleReplicas } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { DatabaseAdmin } from "../databases/database-admin.ts";
import { orDeadLetter } from "./domain-verdict.ts";

/**
 * `scale-replicas`: the same change as its HTTP route, with the command's id as the operation id, so
 * a redelivered command finds its operation and changes nothing (`unchanged`).
 */
export function scaleReplicasHandler(admin: DatabaseAdmin, logger: Logger) {
  return async (event: EventOf<typeof scaleReplicas>, ctx: HandlerContext): Promise<void> => {
    const result = await orDeadLetter("scale-replicas", () =>
      admin.scaleReplicas(event.data.name, event.data.shard, event.data.replicas, event.id),
    );
    logger.info({ ...result, msgId: ctx.msgId }, "scale-replicas handled");
  };
}
