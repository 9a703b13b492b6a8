// The Redis scripts behind leadership and assignment, on the real Redis: writes are fenced by the
// lease token, silent members are removed, and a member reads its share atomically with the epoch.
import { createLogger } from "@dbplane/service-kit";
import { createTestRedis, type TestRedis } from "@dbplane/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { shareOf } from "../src/coordination/assignment-summary.ts";
import { type CoordinationKeys, coordinationKeys } from "../src/coordination/coordination-keys.ts";
import { HEARTBEAT, RELEASE_LEASE, RENEW_LEASE } from "../src/coordination/coordination-scripts.ts";
import { runLeaderDuty } from "../src/coordination/leader-duty.ts";

let redis: TestRedis;
let keys: CoordinationKeys;
const logger = createLogger({ name: "test", level: "silent" });
const duty = (memberId: string, token: string) =>
  runLeaderDuty({ redis: redis.redis, keys, memberId, nodeTimeoutMs: 5_000, logger }, token);
const beat = async (member: string, knownEpoch = -1) => {
  const [, epoch, share] = (await HEARTBEAT.run(
    redis.redis,
    [keys.members, keys.epoch, keys.owned(member)],
    [member, knownEpoch],
  )) as [number, number, string | null];
  return share === null ? undefined : shareOf(share, epoch);
};

beforeEach(async () => {
  redis = await createTestRedis();
  keys = coordinationKeys(redis.prefix);
  await redis.redis.zadd(keys.targetIds, 0, "t1", 0, "t2", 0, "t3", 0, "t4");
});
afterEach(() => redis.cleanup());

describe("coordination scripts", () => {
  it("lets only the lease holder write an assignment, each write a new epoch", async () => {
    await beat("a");
    await beat("b");
    await redis.redis.set(keys.leader, "a/1", "PX", 5_000);
    const first = await duty("a", "a/1");
    expect(first).toMatchObject({ kind: "written", summary: { epoch: 1, leader: "a", targets: 4 } });
    expect(await duty("a", "a/1")).toEqual({ kind: "unchanged" });

    // The lease passes to b (a's expired while it was paused); a's late write is refused.
    await redis.redis.set(keys.leader, "b/1", "PX", 5_000);
    await redis.redis.zadd(keys.targetIds, 0, "t5");
    await redis.redis.incr(keys.targetsVersion);
    expect(await duty("a", "a/1")).toEqual({ kind: "fenced" });
    expect(await redis.redis.get(keys.epoch)).toBe("1");
    expect(await duty("b", "b/1")).toMatchObject({
      kind: "written",
      summary: { epoch: 2, leader: "b", targets: 5 },
    });
    expect(await RENEW_LEASE.run(redis.redis, [keys.leader], ["a/1", 5_000])).toBe(0);
    expect(await RELEASE_LEASE.run(redis.redis, [keys.leader], ["a/1"])).toBe(0);
    expect(await redis.redis.get(keys.leader)).toBe("b/1");
  });

  it("gives each member its share of the newest epoch, all targets exactly once", async () => {
    await beat("a");
    await beat("b");
    await redis.redis.set(keys.leader, "a/1", "PX", 5_000);
    await duty("a", "a/1");
    const [a, b] = [await beat("a"), await beat("b")];
    expect(a?.epoch).toBe(1);
    expect([...a!.targets, ...b!.targets].sort()).toEqual(["t1", "t2", "t3", "t4"]);
    // Nothing new: the heartbeat does not even send the share again.
    expect(await beat("a", 1)).toBeUndefined();
  });

  it("removes a member silent past the node timeout and hands its targets to the others", async () => {
    await beat("a");
    await redis.redis.zadd(keys.members, Date.now() - 60_000, "gone");
    await redis.redis.set(keys.owned("gone"), JSON.stringify({ epoch: 0, targets: ["t1"] }));
    await redis.redis.set(keys.leader, "a/1", "PX", 5_000);
    const outcome = await duty("a", "a/1");
    expect(outcome).toMatchObject({ kind: "written", summary: { members: { a: 4 } } });
    expect(await redis.redis.zscore(keys.members, "gone")).toBeNull();
    expect(await redis.redis.exists(keys.owned("gone"))).toBe(0);
  });
});
