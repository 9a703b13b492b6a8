import { type DefinitionHandler, handle } from "@dbplane/bus";
import { databaseDeleted, databaseReady, type ShardReady, shardReady } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import { shardServerPrefix, shardTargetPrefix, shardTargets } from "../domain/target-sources.ts";
import type { TargetRegistry } from "../targets/target-registry.ts";

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
export function provisionerEventsHandlers(registry: TargetRegistry, logger: Logger): DefinitionHandler[] {
  return [
    handle(shardReady, (event) => registerShard(registry, event.data)),
    handle(databaseReady, async (event) => {
      const ready = event.data;
      for (const shard of ready.shards) await registerShard(registry, { ...shard, database: ready.name });
    }),
    handle(databaseDeleted, async (event) => {
      const { name } = event.data;
      const removed = await registry.remove(await registry.idsWithPrefix(shardTargetPrefix(name)));
      logger.info({ database: name, removed }, "database deleted: its targets removed");
    }),
  ];
}
