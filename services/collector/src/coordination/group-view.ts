import type { Redis } from "ioredis";
import { parseSummary } from "./assignment-summary.ts";
import type { CoordinationKeys } from "./coordination-keys.ts";

export interface MemberView {
  readonly id: string;
  readonly lastSeenAt: string;
  readonly live: boolean;
  readonly assignedTargets: number;
  readonly info: Record<string, unknown>;
}

export interface GroupView {
  readonly leader: string | null;
  readonly epoch: number;
  readonly assignedAt: string | null;
  readonly targets: number;
  readonly movedInLastRebalance: number;
  readonly members: MemberView[];
}

/** The group as Redis holds it: any replica answers the same for the whole group. */
export async function readGroup(
  redis: Redis,
  keys: CoordinationKeys,
  nodeTimeoutMs: number,
): Promise<GroupView> {
  const [[, time], [, scored], [, lease], [, summaryJson], [, infos]] = (await redis
    .multi()
    .time()
    .zrange(keys.members, "0", "-1", "WITHSCORES")
    .get(keys.leader)
    .get(keys.assignment)
    .hgetall(keys.memberInfo)
    .exec()) as [unknown, unknown][] as [
    [unknown, [string, string]],
    [unknown, string[]],
    [unknown, string | null],
    [unknown, string | null],
    [unknown, Record<string, string>],
  ];
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  const summary = parseSummary(summaryJson ?? "");
  const members: MemberView[] = [];
  for (let i = 0; i < scored.length; i += 2) {
    const id = scored[i]!;
    const seen = Number(scored[i + 1]);
    members.push({
      id,
      lastSeenAt: new Date(seen).toISOString(),
      live: seen >= now - nodeTimeoutMs,
      assignedTargets: summary?.members[id] ?? 0,
      info: infos[id] ? (JSON.parse(infos[id]) as Record<string, unknown>) : {},
    });
  }
  return {
    leader: lease ? lease.slice(0, lease.lastIndexOf("/")) : null,
    epoch: summary?.epoch ?? 0,
    assignedAt: summary ? new Date(summary.at).toISOString() : null,
    targets: summary?.targets ?? 0,
    movedInLastRebalance: summary?.moved ?? 0,
    members,
  };
}

/** Owners of `targets` in the newest assignment. */
export async function ownersOf(
  redis: Redis,
  keys: CoordinationKeys,
  targets: readonly string[],
): Promise<(string | null)[]> {
  if (targets.length === 0) return [];
  return redis.hmget(keys.owners, ...targets);
}
