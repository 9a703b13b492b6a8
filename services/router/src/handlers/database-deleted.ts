import type { MessageHandler } from "@dbplane/bus";
import type { databaseDeleted } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { KvFenceCoordinator } from "../fence/fence-coordinator.ts";
import type { ShardMapPublisher } from "../shards/shard-map-publisher.ts";

/**
 * `database.deleted` → the database's shard map is withdrawn: forgotten in the store, removed
 * from the bucket, and every replica stops routing to it (its queries then answer 404) and
 * closes its pools. Its write fences go too. Idempotent: a redelivery finds nothing stored and deletes nothing new.
 */
export function databaseDeletedHandler(
  publisher: ShardMapPublisher,
  fences: Pick<KvFenceCoordinator, "forget">,
  logger: Logger,
): MessageHandler<typeof databaseDeleted> {
  return async (event, ctx) => {
    const forgotten = await publisher.retire(event.data.name);
    await fences.forget(event.data.name);
    logger.info(
      { database: event.data.name, forgotten, msgId: ctx.msgId },
      forgotten
        ? "shard map withdrawn after database.deleted"
        : "database.deleted for a database with no map",
    );
  };
}
