import type { LiveShard } from "./live-map.ts";
import type { ServerPool } from "./server-pool.ts";

export const SERVER_ROLES = { primary: "primary", replica: "replica" } as const;
export type ServerRole = (typeof SERVER_ROLES)[keyof typeof SERVER_ROLES];

let nextReplica = 0;

/**
 * The replicas that may serve reads now: probed up, still in recovery (a promoted replica is no
 * longer a copy of this primary), and lagging no more than `maxLagMs`. Lagging replicas come
 * back by themselves once a probe sees them caught up.
 */
export function eligibleReplicas(shard: LiveShard, maxLagMs: number): ServerPool[] {
  return shard.replicas.filter(
    (r) =>
      r.unusable === undefined &&
      r.health.status === "up" &&
      r.health.inRecovery === true &&
      r.health.lagMs <= maxLagMs,
  );
}

/** A replica (round robin) when one is eligible, else the primary. */
export function pickReadServer(shard: LiveShard, maxLagMs: number): { server: ServerPool; role: ServerRole } {
  const replicas = eligibleReplicas(shard, maxLagMs);
  if (replicas.length === 0) return { server: shard.primary, role: SERVER_ROLES.primary };
  nextReplica = (nextReplica + 1) % 1_000_000;
  return { server: replicas[nextReplica % replicas.length]!, role: SERVER_ROLES.replica };
}
