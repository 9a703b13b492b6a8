import type { EventOf, HandlerContext } from "@dbplane/bus";
import type { shardMapPublished } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type pg from "pg";
import type { ProvisionerTables } from "../store/schema-tables.ts";
import { recordShardOwners } from "../store/shard-owners.ts";

/**
 * The router's `shard-map.published`: which shards the newest map gives a range, kept so that
 * remove-shard never drops a shard that serves keys. An older version than the one kept
 * (redelivered, out of order) changes nothing.
 */
export function shardMapPublishedHandler(pool: pg.Pool, tables: ProvisionerTables, logger: Logger) {
  return async (event: EventOf<typeof shardMapPublished>, ctx: HandlerContext): Promise<void> => {
    const stored = await recordShardOwners(pool, tables, event.data);
    logger.debug(
      { database: event.data.database, version: event.data.version, stored, msgId: ctx.msgId },
      "shard map owners seen",
    );
  };
}
