import type { ShardedTable } from "@dbplane/contracts";
import { type KeyRange, RangeLookup, rangesFromText } from "@dbplane/sharding";
import type { ApplicationRoleSpec, ShardEndpointSpec, ShardMapDocument } from "../domain/shard-map.ts";
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
  /**
   * The shards that own a range, in index order: what a statement for "every shard" (scatter,
   * broadcast, COPY) reaches. A shard owning nothing yet is the target of a reshard still filling
   * by replication; it holds no authoritative row, and a write sent to it directly would collide
   * with what replication brings.
   */
  readonly serving: readonly number[];
  /** The role clients authenticate as; the pools connect as it too. Absent on older maps. */
  readonly application?: ApplicationRoleSpec;
  /** Which tables are distributed and by which key column; all others live on every shard. */
  readonly shardedTables: readonly ShardedTable[];
}

/**
 * Builds the live form of a document, acquiring (or reusing) a pool per server. The pools
 * connect as the database's application role when the map names one, so routed statements run
 * with the application's privileges rather than the provisioner's superuser.
 */
export async function buildLiveMap(doc: ShardMapDocument, pools: ServerPoolRegistry): Promise<LiveMap> {
  const lookup = new RangeLookup(rangesFromText(doc.ranges));
  const shards = new Map<number, LiveShard>();
  const app = doc.application;
  for (const spec of doc.shards) {
    const user = app ? app.user : spec.user;
    const passwordRef = app ? app.passwordRef : spec.passwordRef;
    const address = (ep: { host: string; port: number }) => ({ ...ep, dbname: spec.dbname, user });
    const primary = await pools.acquire(address(spec.primary), passwordRef);
    const replicas = await Promise.all(spec.replicas.map((r) => pools.acquire(address(r), passwordRef)));
    shards.set(spec.shard, {
      index: spec.shard,
      spec,
      ranges: lookup.rangesOf(spec.shard),
      primary,
      replicas,
    });
  }
  return {
    database: doc.database,
    version: doc.version,
    document: doc,
    lookup,
    shards,
    serving: [...shards.values()]
      .filter((s) => s.ranges.length > 0)
      .map((s) => s.index)
      .sort((a, b) => a - b),
    ...(app ? { application: app } : {}),
    shardedTables: doc.shardedTables,
  };
}

/** Gives a retired map's pools back (they close later if no other version uses them). */
export function releaseLiveMap(map: LiveMap, pools: ServerPoolRegistry): void {
  for (const shard of map.shards.values()) {
    pools.release(shard.primary);
    for (const r of shard.replicas) pools.release(r);
  }
}
