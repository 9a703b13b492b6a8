import type { Bus, BusKv } from "@dbplane/bus";
import { z } from "zod";

/**
 * A write fence on one shard of a database, as the coordinator writes it. `raised`: no replica
 * sends a new write to the shard. `lifted`: writes flow again, but with `mapVersion` only once
 * they are planned by at least that shard map version (the cut-over's new map); the document
 * stays in the bucket so a replica that starts or catches up later still honours the version.
 */
export const fenceDocument = z.object({
  database: z.string().min(1),
  id: z.string().min(1),
  shard: z.number().int().min(0),
  state: z.enum(["raised", "lifted"]),
  mapVersion: z.number().int().min(1).optional(),
  /** Holds reads of the shard too (a cut-over that changes what the shards show), not only writes. */
  reads: z.boolean().optional(),
  raisedAt: z.iso.datetime(),
  liftedAt: z.iso.datetime().optional(),
});
export type FenceDocument = z.infer<typeof fenceDocument>;

/** A replica's acknowledgement of one raise of a fence (`revision`: the fence document's). */
export const fenceAck = z.object({
  replica: z.string().min(1),
  revision: z.number().int().min(1),
  at: z.iso.datetime(),
});
export type FenceAck = z.infer<typeof fenceAck>;

/** A router replica's heartbeat; the entry's server time says when it was last renewed. */
export const replicaHeartbeat = z.object({
  replica: z.string().min(1),
  host: z.string(),
  pid: z.number().int(),
  /** After this long without a renewal the replica has stopped admitting writes by itself. */
  leaseMs: z.number().int().min(1),
});
export type ReplicaHeartbeat = z.infer<typeof replicaHeartbeat>;

/** The three buckets a fence lives in (one schema each). */
export interface FenceBuckets {
  /** Key `<database>.<fence id>`. */
  readonly fences: BusKv<FenceDocument>;
  /** Key `<database>.<fence id>.<replica key>`. */
  readonly acks: BusKv<FenceAck>;
  /** Key `<replica key>`. */
  readonly replicas: BusKv<ReplicaHeartbeat>;
}

/** A gone replica's heartbeat disappears after this long (the lease decides liveness, not this). */
const HEARTBEAT_RETENTION_MS = 3_600_000;

/** Opens (creating if needed) the fence buckets; the coordinator and every replica use the same. */
export async function openFenceBuckets(bus: Pick<Bus, "kv">): Promise<FenceBuckets> {
  const [fences, acks, replicas] = await Promise.all([
    bus.kv("router_fences", { schema: fenceDocument }),
    bus.kv("router_fence_acks", { schema: fenceAck }),
    bus.kv("router_replicas", { schema: replicaHeartbeat, ttlMs: HEARTBEAT_RETENTION_MS }),
  ]);
  return { fences, acks, replicas };
}

/** Fence ids name KV keys: letters, digits, `_` and `-`. */
export const FENCE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const fenceKey = (database: string, id: string) => `${database}.${id}`;
export const ackKey = (database: string, id: string, replica: string) =>
  `${database}.${id}.${replicaKey(replica)}`;

/** A replica id (`host:pid:random`) as one KV key token. */
export function replicaKey(replica: string): string {
  return replica.replace(/[^A-Za-z0-9_-]/g, "_");
}
