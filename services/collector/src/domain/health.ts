import type { Observation } from "./observation.ts";

export const HEALTH_STATES = ["up", "degraded", "down"] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

export interface Health {
  readonly state: HealthState;
  readonly reason: string;
}

/** Bounds past which a target that answers is degraded rather than up. */
export interface HealthLimits {
  readonly maxReplicationLagSeconds: number;
  readonly maxReplicationLagBytes: number;
  /** Share of max connections in use (server-wide) at which the server is near its limit. */
  readonly connectionsNearMaxRatio: number;
  /** Share of maxmemory in use (Redis) at which memory is near its limit. */
  readonly memoryNearMaxRatio: number;
}

const percent = (ratio: number) => `${Math.round(ratio * 100)}%`;

/** Why a target that answered is degraded: every bound it is past, in a fixed order. */
export function degradations(obs: Observation, limits: HealthLimits): string[] {
  const found: string[] = [];
  const { replication, connections, memory } = obs;
  if (replication.lagSeconds !== undefined && replication.lagSeconds > limits.maxReplicationLagSeconds) {
    found.push(
      `replication lag ${replication.lagSeconds.toFixed(1)} s exceeds ${limits.maxReplicationLagSeconds} s`,
    );
  } else if (replication.lagBytes !== undefined && replication.lagBytes > limits.maxReplicationLagBytes) {
    found.push(
      `replication lag ${replication.lagBytes} bytes exceeds ${limits.maxReplicationLagBytes} bytes`,
    );
  }
  found.push(...replication.problems);
  if (connections.max !== undefined && connections.max > 0) {
    const ratio = connections.used / connections.max;
    if (ratio >= limits.connectionsNearMaxRatio) {
      found.push(`connections ${connections.used} of ${connections.max} (${percent(ratio)}) in use`);
    }
  }
  if (memory !== undefined && memory.max > 0 && memory.used / memory.max >= limits.memoryNearMaxRatio) {
    found.push(`memory ${percent(memory.used / memory.max)} of maxmemory in use`);
  }
  return found;
}

/** Health of a target that answered. */
export function healthOf(obs: Observation, limits: HealthLimits): Health {
  const found = degradations(obs, limits);
  return found.length === 0
    ? { state: "up", reason: "collected; every check within bounds" }
    : { state: "degraded", reason: found.join("; ") };
}

/** Health of a target that could not be collected. */
export function downHealth(reason: string): Health {
  return { state: "down", reason };
}

/** Numeric form for the health gauge (0 up, 1 degraded, 2 down). */
export function healthLevel(state: HealthState): number {
  return HEALTH_STATES.indexOf(state);
}
