import { shardReady, shardRemoved } from "@dbplane/contracts";
import { aggregateOf, eventIds } from "../domain/database-spec.ts";
import { enqueueEvent } from "./outbox.ts";
import { atVersion, type ProgressContext } from "./progress-context.ts";
import type { ShardEndpoint } from "./rows.ts";

/** Records a shard ready at `version` and announces it once per version. */
export function recordShardReady(
  ctx: ProgressContext,
  name: string,
  version: number,
  shard: number,
  endpoint: ShardEndpoint,
  correlationId: string,
): Promise<void> {
  return atVersion(ctx, name, version, async ({ client, t, db }) => {
    if (!db) return;
    const { rowCount } = await client.query(
      `UPDATE ${t.shards} SET state = 'ready', endpoint = $3, reason = NULL, ready_version = $4, updated_at = now()
       WHERE database = $1 AND shard = $2 AND (ready_version IS DISTINCT FROM $4 OR state <> 'ready')`,
      [name, shard, JSON.stringify(endpoint), version],
    );
    if (rowCount === 0) return;
    await enqueueEvent(
      client,
      t,
      shardReady,
      { database: name, shard, ...endpoint },
      {
        id: eventIds.shardReady(name, shard, version),
        subject: aggregateOf.shard(name, shard),
        correlationId,
      },
    );
  });
}

/**
 * A shard the spec no longer has is gone (its servers dropped): its row goes — a later add-shard
 * makes the index anew — and `shard.removed` tells the router to drop it from the map.
 */
export function recordShardRemoved(
  ctx: ProgressContext,
  name: string,
  version: number,
  shard: number,
  correlationId: string,
): Promise<void> {
  return atVersion(ctx, name, version, async ({ client, t, db }) => {
    if (!db || shard < db.spec.shards) return;
    const { rowCount } = await client.query(`DELETE FROM ${t.shards} WHERE database = $1 AND shard = $2`, [
      name,
      shard,
    ]);
    if (rowCount === 0) return;
    await enqueueEvent(
      client,
      t,
      shardRemoved,
      { database: name, shard, version },
      {
        id: eventIds.shardRemoved(name, shard, version),
        subject: aggregateOf.shard(name, shard),
        correlationId,
      },
    );
  });
}
