import type { MessageHandler } from "@dbplane/bus";
import {
  type DatabaseReady,
  databaseDeleted,
  type databaseReady,
  type ShardReady,
  shardReady,
} from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import { shardServerPrefix, shardTargetPrefix, shardTargets } from "../domain/target-sources.ts";
import type { TargetRegistry } from "../targets/target-registry.ts";

type ProvisionerEvents = typeof shardReady | typeof databaseReady | typeof databaseDeleted;

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
 * register each server of the shard as a target; `database.deleted` removes them all.
 */
export function provisionerEventsHandler(
  registry: TargetRegistry,
  logger: Logger,
): MessageHandler<ProvisionerEvents> {
  return async (event, ctx) => {
    if (ctx.def.type === databaseDeleted.type) {
      const { name } = event.data as { name: string };
      const removed = await registry.remove(await registry.idsWithPrefix(shardTargetPrefix(name)));
      logger.info({ database: name, removed }, "database deleted: its targets removed");
      return;
    }
    if (ctx.def.type === shardReady.type) {
      await registerShard(registry, event.data as ShardReady);
      return;
    }
    const ready = event.data as DatabaseReady;
    for (const shard of ready.shards) await registerShard(registry, { ...shard, database: ready.name });
  };
}
