import type { BusKv, EventOf, HandlerContext } from "@dbplane/bus";
import type { databaseDeleted } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { ProvisionerCluster } from "../local/local-targets.ts";

/** `provisioner.database.deleted`: forgets the database; its databases are reported lost on the next listing. */
export function provisionerDatabaseDeletedHandler(clusters: BusKv<ProvisionerCluster>, logger: Logger) {
  return async (event: EventOf<typeof databaseDeleted>, ctx: HandlerContext): Promise<void> => {
    await clusters.delete(event.data.name);
    logger.info({ database: event.data.name, msgId: ctx.msgId }, "provisioner database forgotten");
  };
}
