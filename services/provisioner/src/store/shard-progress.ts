import { createHash } from "node:crypto";
import { shardReady, shardRemoved } from "@dbplane/contracts";
import { aggregateOf, eventIds } from "../domain/database-spec.ts";
import { enqueueEvent } from "./outbox.ts";
import { atVersion, type ProgressContext } from "./progress-context.ts";
import type { ShardEndpoint } from "./rows.ts";

/**
 * Records a shard ready at `version` and announces it once per version — and again, under an id
 * of its own, when a later pass at the same version finds its endpoint changed (a replica made
 * anew after a failover, a server that had to take another port). True for that second case:
 * the database's `database.ready` must then name the new endpoint too.
 */
export function recordShardReady(
  ctx: ProgressContext,
  name: string,
  version: number,
  shard: number,
  endpoint: ShardEndpoint,
  correlationId: string,
): Promise<boolean> {
  return atVersion(ctx, name, version, async ({ client, t, db }) => {
    if (!db) return false;
    const { rows } = await client.query<{ again: boolean }>(
      `UPDATE ${t.shards} s SET state = 'ready', endpoint = $3, reason = NULL, ready_version = $4, updated_at = now()
       FROM (SELECT ready_version = $4 AND state = 'ready' AS again FROM ${t.shards} WHERE database = $1 AND shard = $2) old
       WHERE s.database = $1 AND s.shard = $2
         AND (s.ready_version IS DISTINCT FROM $4 OR s.state <> 'ready' OR s.endpoint IS DISTINCT FROM $3::jsonb)
       RETURNING old.again`,
      [name, shard, JSON.stringify(endpoint), version],
    );
    if (rows.length === 0) return false;
    const first = eventIds.shardReady(name, shard, version);
    const digest = createHash("sha256").update(JSON.stringify(endpoint)).digest("hex").slice(0, 12);
    await enqueueEvent(
      client,
      t,
      shardReady,
      { database: name, shard, ...endpoint },
      {
        id: rows[0]?.again ? `${first}:endpoint-${digest}` : first,
        subject: aggregateOf.shard(name, shard),
        correlationId,
      },
    );
    return rows[0]?.again === true;
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
