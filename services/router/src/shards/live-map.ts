import { type KeyRange, RangeLookup, rangesFromText } from "@dbplane/sharding";
import type { ShardEndpointSpec, ShardMapDocument } from "../domain/shard-map.ts";
import type { ServerPool } from "./server-pool.ts";
import type { ServerPoolRegistry } from "./server-pool-registry.ts";

/** One shard of a live map: its endpoints as published and the pools that reach them. */
export interface LiveShard {
  readonly index: number;
  readonly spec: ShardEndpointSpec;
  readonly ranges: readonly KeyRange[];
  readonly primary: ServerPool;
  readonly replicas: readonly ServerPool[];
}

/**
 * A shard map version ready to route: immutable once built. A request reads the current
 * LiveMap once and uses only it, so a swap in the middle of the request cannot mix versions.
 */
export interface LiveMap {
  readonly database: string;
  readonly version: number;
  readonly document: ShardMapDocument;
  readonly lookup: RangeLookup;
  readonly shards: ReadonlyMap<number, LiveShard>;
}

/** Builds the live form of a document, acquiring (or reusing) a pool per server. */
export async function buildLiveMap(doc: ShardMapDocument, pools: ServerPoolRegistry): Promise<LiveMap> {
  const lookup = new RangeLookup(rangesFromText(doc.ranges));
  const shards = new Map<number, LiveShard>();
  for (const spec of doc.shards) {
    const address = (ep: { host: string; port: number }) => ({ ...ep, dbname: spec.dbname, user: spec.user });
    const primary = await pools.acquire(address(spec.primary), spec.passwordRef);
    const replicas = await Promise.all(spec.replicas.map((r) => pools.acquire(address(r), spec.passwordRef)));
    shards.set(spec.shard, {
      index: spec.shard,
      spec,
      ranges: lookup.rangesOf(spec.shard),
      primary,
      replicas,
    });
  }
  return { database: doc.database, version: doc.version, document: doc, lookup, shards };
}

/** Gives a retired map's pools back (they close later if no other version uses them). */
export function releaseLiveMap(map: LiveMap, pools: ServerPoolRegistry): void {
  for (const shard of map.shards.values()) {
    pools.release(shard.primary);
    for (const r of shard.replicas) pools.release(r);
  }
}
