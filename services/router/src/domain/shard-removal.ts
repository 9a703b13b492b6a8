import { rangesFromText } from "@dbplane/sharding";
import type { ShardMapDocument } from "./shard-map.ts";

/** The provisioner removed a shard the map still gives a range: the map cannot drop it. */
export class RemovedShardOwnsRangeError extends Error {
  override readonly name = "RemovedShardOwnsRangeError";
  readonly code = "REMOVED_SHARD_OWNS_RANGE";
}

/**
 * The map after the provisioner removed `shard`: the next version, without it. Undefined when the
 * map does not list it (already dropped: a redelivery writes nothing). A shard that still owns a
 * range cannot go — every key must keep an owner — and is refused.
 */
export function mapWithoutShard(
  current: ShardMapDocument,
  shard: number,
  now: Date,
): ShardMapDocument | undefined {
  if (!current.shards.some((s) => s.shard === shard)) return undefined;
  const owned = rangesFromText(current.ranges).filter((r) => r.shard === shard);
  if (owned.length > 0) {
    throw new RemovedShardOwnsRangeError(
      `shard ${shard} of ${current.database} was removed but owns ${owned.length} range(s) in map version ${current.version}; the map keeps it`,
    );
  }
  return {
    ...current,
    version: current.version + 1,
    shards: current.shards.filter((s) => s.shard !== shard),
    createdAt: now.toISOString(),
  };
}
