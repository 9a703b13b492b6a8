import type { MessageHandler } from "@dbplane/bus";
import { PermanentError } from "@dbplane/bus";
import type { databaseReady } from "@dbplane/contracts";
import type { PasswordRefScope } from "@dbplane/kube";
import type { Logger } from "@dbplane/service-kit";
import { initialShardMap, refreshedShardMap, refusedPasswordRefs } from "../domain/shard-map.ts";
import type { ShardMapPublisher } from "../shards/shard-map-publisher.ts";
import type { RouterStore } from "../store/router-store.ts";
import { publishNextMap } from "./publish-next-map.ts";

/**
 * `database.ready` → the database's shard map. First sight: version 1, equal ranges over its
 * shards. Later (replicas scaled, shards added): a new version with the announced endpoints and
 * the same ranges. Idempotent: a redelivery finds nothing changed and writes nothing, and the
 * bucket is re-synchronised from the store in case an earlier attempt stopped half-way. An event
 * whose password references the provisioner would not issue goes to the DLQ, the map untouched.
 */
export function databaseReadyHandler(
  store: RouterStore,
  publisher: ShardMapPublisher,
  refScope: PasswordRefScope,
  logger: Logger,
): MessageHandler<typeof databaseReady> {
  return async (event, ctx) => {
    const data = event.data;
    const refused = refusedPasswordRefs(data, refScope);
    if (refused.length > 0) {
      throw new PermanentError(`password references of ${data.name} refused: ${refused.join("; ")}`);
    }
    const current = await store.latestMap(data.name);
    const next = current ? refreshedShardMap(current, data, new Date()) : initialShardMap(data, new Date());
    if (!next) {
      // Nothing new: a redelivery after a crash between the store and the bucket.
      await publisher.reconcile();
      return;
    }
    await publishNextMap(publisher, next, event.correlationid ?? event.id);
    logger.info(
      { database: data.name, version: next.version, shards: next.shards.length, msgId: ctx.msgId },
      "shard map created from database.ready",
    );
  };
}
