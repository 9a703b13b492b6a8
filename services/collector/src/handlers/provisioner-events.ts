import { type DefinitionHandler, handle, PermanentError } from "@dbplane/bus";
import {
  databaseDeleted,
  databaseReady,
  type ShardReady,
  shardReady,
  shardRemoved,
} from "@dbplane/contracts";
import { type PasswordRefScope, passwordRefRefusal } from "@dbplane/kube";
import type { Logger } from "@dbplane/service-kit";
import { shardServerPrefix, shardTargetPrefix, shardTargets } from "../domain/target-sources.ts";
import type { TargetRegistry } from "../targets/target-registry.ts";

/**
 * A shard's password reference must be one the provisioner issues for that shard: a forged event
 * must not make the collector read its own environment (or another Secret) and send it as a
 * password to the server the event names. Refused → DLQ with the reason, no target registered.
 */
function checkShardRef(shard: ShardReady, scope: PasswordRefScope): void {
  const why = passwordRefRefusal(shard.passwordRef, scope, { database: shard.database, shard: shard.shard });
  if (why !== undefined) {
    throw new PermanentError(
      `password reference of shard ${shard.shard} of ${shard.database} refused: ${why}`,
    );
  }
}

/** Registers a shard's servers and drops servers the shard no longer has (replicas scaled down). */
async function registerShard(registry: TargetRegistry, shard: ShardReady): Promise<void> {
  const specs = shardTargets(shard);
  const keep = new Set(specs.map((s) => s.id));
  const existing = await registry.idsWithPrefix(shardServerPrefix(shard.database, shard.shard));
  await registry.remove(existing.filter((id) => !keep.has(id)));
  await registry.upsert(specs);
}

/**
 * `shard.ready` and `database.ready` (which lists every shard after a scale or an added shard)
 * register each server of the shard as a target (password references checked against `refScope`);
 * `shard.removed` removes the shard's, `database.deleted` all of the database's.
 */
export function provisionerEventsHandlers(
  registry: TargetRegistry,
  refScope: PasswordRefScope,
  logger: Logger,
): DefinitionHandler[] {
  return [
    handle(shardReady, (event) => {
      checkShardRef(event.data, refScope);
      return registerShard(registry, event.data);
    }),
    handle(databaseReady, async (event) => {
      const ready = event.data;
      const shards = ready.shards.map((shard) => ({ ...shard, database: ready.name }));
      // All checked first: a refused shard registers none of the database's servers.
      for (const shard of shards) checkShardRef(shard, refScope);
      for (const shard of shards) await registerShard(registry, shard);
    }),
    handle(shardRemoved, async (event) => {
      const { database, shard } = event.data;
      const removed = await registry.remove(await registry.idsWithPrefix(shardServerPrefix(database, shard)));
      logger.info({ database, shard, removed }, "shard removed: its targets removed");
    }),
    handle(databaseDeleted, async (event) => {
      const { name } = event.data;
      const removed = await registry.remove(await registry.idsWithPrefix(shardTargetPrefix(name)));
      logger.info({ database: name, removed }, "database deleted: its targets removed");
    }),
  ];
}
