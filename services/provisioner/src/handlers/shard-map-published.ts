import type { EventOf, HandlerContext } from "@dbplane/bus";
import type { shardMapPublished } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type pg from "pg";
import type { ProvisionerTables } from "../store/schema-tables.ts";
import { recordShardMap } from "../store/shard-map-history.ts";
import { recordShardOwners } from "../store/shard-owners.ts";

/**
 * The router's `shard-map.published`: which shards the newest map gives a range, kept so that
 * remove-shard never drops a shard that serves keys (an older version than the one kept —
 * redelivered, out of order — changes nothing there); and every version with its ranges and
 * the event's time, so a restore makes its database with the ranges in force at its moment.
 */
export function shardMapPublishedHandler(pool: pg.Pool, tables: ProvisionerTables, logger: Logger) {
  return async (event: EventOf<typeof shardMapPublished>, ctx: HandlerContext): Promise<void> => {
    // In force from when the router made it: the event follows the bucket write (later, and
    // much later when a crash left it to the router's repair). The event's time for older routers.
    await recordShardMap(pool, tables, event.data, new Date(event.data.createdAt ?? event.time));
    const stored = await recordShardOwners(pool, tables, event.data);
    logger.debug(
      { database: event.data.database, version: event.data.version, stored, msgId: ctx.msgId },
      "shard map owners seen",
    );
  };
}
