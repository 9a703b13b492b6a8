import type { MessageHandler } from "@dbplane/bus";
import type { databaseDeleted } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { ShardMapPublisher } from "../shards/shard-map-publisher.ts";

/**
 * `database.deleted` → the database's shard map is withdrawn: forgotten in the store, removed
 * from the bucket, and every replica stops routing to it (its queries then answer 404) and
 * closes its pools. Idempotent: a redelivery finds nothing stored and deletes nothing new.
 */
export function databaseDeletedHandler(
  publisher: ShardMapPublisher,
  logger: Logger,
): MessageHandler<typeof databaseDeleted> {
  return async (event, ctx) => {
    const forgotten = await publisher.retire(event.data.name);
    logger.info(
      { database: event.data.name, forgotten, msgId: ctx.msgId },
      forgotten
        ? "shard map withdrawn after database.deleted"
        : "database.deleted for a database with no map",
    );
  };
}
