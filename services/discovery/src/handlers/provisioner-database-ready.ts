import type { BusKv, EventOf, HandlerContext } from "@dbplane/bus";
import type { databaseReady } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import { clusterOfReady, type ProvisionerCluster } from "../local/local-targets.ts";

/**
 * `provisioner.database.ready`: remembers the database's shards in the shared bucket, so every
 * replica's local driver lists them. Idempotent; an older version never replaces a newer one.
 */
export function provisionerDatabaseReadyHandler(clusters: BusKv<ProvisionerCluster>, logger: Logger) {
  return async (event: EventOf<typeof databaseReady>, ctx: HandlerContext): Promise<void> => {
    const next = clusterOfReady(event.data);
    await clusters.updateWith(next.name, (current) =>
      current && current.version > next.version ? undefined : next,
    );
    logger.info(
      { database: next.name, version: next.version, msgId: ctx.msgId },
      "provisioner database tracked",
    );
  };
}
