// The autoSplit policy on the collector's samples: a threshold must hold for sustainMs before a
// split is asked for, falling below it starts over, the cooldown and maxShards hold further
// splits back, and with the policy off nothing is split.
import { ConflictError, createLogger } from "@dbplane/service-kit";
import { createTestSchema, type TestSchema } from "@dbplane/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AutoSplitter } from "../src/reshard/auto-split.ts";
import type { ReshardService, SplitRequest } from "../src/reshard/reshard-service.ts";
import { ReshardStore } from "../src/reshard/reshard-store.ts";
import type { ShardMapRegistry } from "../src/shards/shard-map-registry.ts";
import { createRouterStore } from "../src/store/router-store.ts";

const logger = createLogger({ name: "autosplit-test", level: "silent" });
let schema: TestSchema;
let splits: SplitRequest[];
let auto: AutoSplitter;
let store: ReshardStore;
let serving = [0, 1];

const maps = {
  get: () => ({
    serving,
    shards: new Map(serving.map((i) => [i, { ranges: [{}] }])),
  }),
} as unknown as ShardMapRegistry;

beforeEach(async () => {
  schema = await createTestSchema("autosplit");
  await createRouterStore(schema.pool, schema.name).migrate();
  store = new ReshardStore(schema.pool, schema.name);
  splits = [];
  serving = [0, 1];
  const reshards = {
    async split(request: SplitRequest) {
      splits.push(request);
      // As the real service does: recorded, so the cooldown sees it.
      const { reshard } = await store.create({
        id: `rs_${splits.length}`,
        database: request.database,
        sourceShard: request.shard,
        trigger: request.trigger,
      });
      return { reshard, created: true };
    },
  } as unknown as ReshardService;
  auto = new AutoSplitter({ pool: schema.pool, schema: schema.name, maps, reshards, logger });
});
afterEach(() => schema.drop());

const sample = (at: number, sizeBytes: number, shard = 0) => ({
  database: "shop",
  shard,
  windowSeconds: 10,
  transactionsPerSecond: 1,
  tuplesPerSecond: 1,
  connections: 3,
  sizeBytes,
  sampledAt: new Date(at).toISOString(),
});
const t0 = Date.parse("2026-12-03T12:00:00Z");

describe("autoSplit on collector samples", () => {
  it("is off by default: a big shard is not split", async () => {
    expect(await auto.policy("shop")).toMatchObject({ enabled: false, maxShards: 16 });
    // No threshold set: a sample is no signal at all.
    expect(await auto.onSample(sample(t0, 10_000))).toBeUndefined();
    await auto.setPolicy("shop", { ...(await auto.policy("shop")), maxSizeBytes: 1_000, sustainMs: 0 });
    expect(await auto.onSample(sample(t0 + 3_600_000, 10_000))).toBe("off");
    expect(splits).toEqual([]);
  });

  it("splits once the size has stayed over the threshold for sustainMs; a dip starts over", async () => {
    await auto.setPolicy("shop", {
      enabled: true,
      onHot: true,
      maxSizeBytes: 1_000,
      sustainMs: 60_000,
      cooldownMs: 600_000,
      maxShards: 4,
    });
    expect(await auto.onSample(sample(t0, 5_000))).toBeUndefined();
    expect(await auto.onSample(sample(t0 + 30_000, 500))).toBeUndefined(); // dipped: starts over
    expect(await auto.onSample(sample(t0 + 40_000, 5_000))).toBeUndefined();
    expect(await auto.onSample(sample(t0 + 90_000, 5_000))).toBeUndefined(); // 50 s held
    expect(await auto.onSample(sample(t0 + 100_000, 5_000))).toBe("split");
    expect(splits).toHaveLength(1);
    expect(splits[0]).toMatchObject({ database: "shop", shard: 0, trigger: { by: "auto" } });
    expect(splits[0]!.trigger.reason).toBe("size: size 5000 bytes over 1000 for 60 s");
    // Within the cooldown (the first split still running counts too): no second split.
    expect(await auto.onSample(sample(t0 + 200_000, 5_000, 1))).toBeUndefined();
    expect(await auto.onSample(sample(t0 + 300_000, 5_000, 1))).toBe("cooldown");
    expect(splits).toHaveLength(1);
  });

  it("never splits past maxShards, and a conflict (a reshard running) is 'busy'", async () => {
    await auto.setPolicy("shop", { enabled: true, onHot: true, sustainMs: 0, cooldownMs: 0, maxShards: 2 });
    expect(await auto.onHot({ database: "shop", shard: 0, rate: 50, medianRate: 10, multiple: 5 })).toBe(
      "max-shards",
    );
    serving = [0, 1, 2];
    await auto.setPolicy("shop", { enabled: true, onHot: true, sustainMs: 0, cooldownMs: 0, maxShards: 8 });
    const busy = new AutoSplitter({
      pool: schema.pool,
      schema: schema.name,
      maps,
      reshards: {
        split: () => Promise.reject(new ConflictError("a reshard of shop is already running")),
      } as unknown as ReshardService,
      logger,
    });
    expect(await busy.onHot({ database: "shop", shard: 1, rate: 50, medianRate: 10, multiple: 5 })).toBe(
      "busy",
    );
    expect(await auto.onHot({ database: "shop", shard: 1, rate: 50, medianRate: 10, multiple: 5 })).toBe(
      "split",
    );
    expect(splits[0]!.trigger.reason).toBe("hot: query rate 50.0/s is 5.0x the median 10.0/s");
  });
});

describe("the rebalance check", () => {
  it("splits for collector heat that lasted though no sample came since, considers the shards hot now, and ignores stale heat", async () => {
    await auto.setPolicy("shop", {
      enabled: true,
      onHot: true,
      maxSizeBytes: 1_000,
      sustainMs: 60_000,
      cooldownMs: 0,
      maxShards: 8,
    });
    await auto.onSample(sample(t0, 5_000, 1));
    expect(await auto.onSample(sample(t0 + 30_000, 5_000, 1))).toBeUndefined(); // not sustained yet
    // No sample since; the check 90 s after the heat began: sustained, and fresh enough.
    expect(await auto.check([], new Date(t0 + 90_000))).toEqual(["split"]);
    expect(splits).toHaveLength(1);
    expect(splits[0]).toMatchObject({
      shard: 1,
      trigger: { by: "auto", reason: "size: size over its threshold for 90 s" },
    });
    // A shard hot now is considered too, and shard 1's lasting heat again: busy while the split runs.
    const hot = [{ database: "shop", shard: 0, rate: 50, medianRate: 10, multiple: 5 }];
    expect(await auto.check(hot, new Date(t0 + 100_000))).toEqual(["busy", "busy"]);
    // Heat no sample confirmed for ten minutes is no signal.
    expect(await auto.check([], new Date(t0 + 30_000 + 10 * 60_000))).toEqual([]);
  });
});
