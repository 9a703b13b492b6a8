import type { Logger } from "@dbplane/service-kit";
import type { Redis } from "ioredis";
import { assignTargets, movedTargets } from "../domain/rendezvous.ts";
import { type AssignmentSummary, parseSummary } from "./assignment-summary.ts";
import type { CoordinationKeys } from "./coordination-keys.ts";
import { READ_STATE, WRITE_ASSIGNMENT } from "./coordination-scripts.ts";

export interface LeaderDutyOptions {
  readonly redis: Redis;
  readonly keys: CoordinationKeys;
  readonly memberId: string;
  readonly nodeTimeoutMs: number;
  readonly logger: Logger;
}

/** Outcome of one leader tick: nothing to do, a new epoch written, or fenced out (lease lost). */
export type DutyOutcome =
  | { readonly kind: "unchanged" }
  | { readonly kind: "written"; readonly summary: AssignmentSummary }
  | { readonly kind: "fenced" };

function sameMembers(summary: AssignmentSummary, live: readonly string[]): boolean {
  const known = Object.keys(summary.members).sort();
  return known.length === live.length && known.every((m, i) => m === live[i]);
}

/**
 * One tick of the leader's work: drop members silent past the node timeout and, when the live
 * members, the target set or the leader's term changed, assign every target by rendezvous
 * hashing and write the result as the next epoch — fenced by the lease token.
 */
export async function runLeaderDuty(options: LeaderDutyOptions, token: string): Promise<DutyOutcome> {
  const { redis, keys } = options;
  const [now, scored, , summaryJson, version] = (await READ_STATE.run(
    redis,
    [keys.members, keys.epoch, keys.assignment, keys.targetsVersion],
    [],
  )) as [number, string[], string, string, string];
  const live: string[] = [];
  const stale: string[] = [];
  for (let i = 0; i < scored.length; i += 2) {
    (Number(scored[i + 1]) >= now - options.nodeTimeoutMs ? live : stale).push(scored[i]!);
  }
  live.sort();
  const previous = parseSummary(summaryJson);
  const current =
    previous &&
    previous.leaderToken === token &&
    previous.targetsVersion === version &&
    sameMembers(previous, live) &&
    stale.length === 0;
  if (current) return { kind: "unchanged" };

  const targets = await redis.zrange(keys.targetIds, "0", "-1");
  const shares = assignTargets(targets, live);
  const before = await ownersByMember(redis, keys);
  const summary: AssignmentSummary = {
    epoch: 0,
    leader: options.memberId,
    leaderToken: token,
    at: now,
    members: Object.fromEntries([...shares].map(([m, t]) => [m, t.length])),
    targets: targets.length,
    targetsVersion: version,
    moved: movedTargets(before, shares),
  };
  const assigned = [...shares.keys()];
  const epoch = (await WRITE_ASSIGNMENT.run(
    redis,
    [
      keys.leader,
      keys.epoch,
      keys.assignment,
      keys.owners,
      keys.members,
      keys.memberInfo,
      ...assigned.map((m) => keys.owned(m)),
      ...stale.map((m) => keys.owned(m)),
    ],
    [
      token,
      JSON.stringify(summary),
      assigned.length,
      JSON.stringify(stale),
      ...assigned.flatMap((m) => [m, JSON.stringify(shares.get(m))]),
    ],
  )) as number;
  if (epoch < 0) return { kind: "fenced" };
  if (stale.length > 0)
    options.logger.warn({ stale, nodeTimeoutMs: options.nodeTimeoutMs }, "removed silent members");
  return { kind: "written", summary: { ...summary, epoch } };
}

async function ownersByMember(redis: Redis, keys: CoordinationKeys): Promise<Map<string, string[]>> {
  const owners = await redis.hgetall(keys.owners);
  const byMember = new Map<string, string[]>();
  for (const [target, member] of Object.entries(owners)) {
    const list = byMember.get(member) ?? [];
    list.push(target);
    byMember.set(member, list);
  }
  return byMember;
}
