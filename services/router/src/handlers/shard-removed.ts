import type { MessageHandler } from "@dbplane/bus";
import { PermanentError } from "@dbplane/bus";
import type { shardRemoved } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import { mapWithoutShard, RemovedShardOwnsRangeError } from "../domain/shard-removal.ts";
import type { ShardMapPublisher } from "../shards/shard-map-publisher.ts";
import type { RouterStore } from "../store/router-store.ts";
import { publishNextMap } from "./publish-next-map.ts";

/**
 * `shard.removed` → the next map version without the shard, so every replica stops listing it
 * and closes its pools to it. A shard the map does not list changes nothing (a redelivery, or a
 * shard that never joined); one that still owns a range is dead-lettered with the reason and the
 * map kept (the provisioner refuses to remove such a shard, so this means the two disagree).
 */
export function shardRemovedHandler(
  store: RouterStore,
  publisher: ShardMapPublisher,
  logger: Logger,
): MessageHandler<typeof shardRemoved> {
  return async (event, ctx) => {
    const { database, shard } = event.data;
    const current = await store.latestMap(database);
    if (!current) return;
    let next: ReturnType<typeof mapWithoutShard>;
    try {
      next = mapWithoutShard(current, shard, new Date());
    } catch (err) {
      if (err instanceof RemovedShardOwnsRangeError) {
        logger.error({ err, database, shard, msgId: ctx.msgId }, "a removed shard owns a range");
        throw new PermanentError(err.message, { cause: err });
      }
      throw err;
    }
    if (!next) {
      // Nothing new: a redelivery after a crash between the store and the bucket.
      await publisher.reconcile();
      return;
    }
    await publishNextMap(publisher, next, event.correlationid ?? event.id);
    logger.info({ database, shard, version: next.version, msgId: ctx.msgId }, "shard dropped from the map");
  };
}
