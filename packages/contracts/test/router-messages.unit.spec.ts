import { describe, expect, it } from "vitest";
import { parseMessageData, shardHot, shardMapPublished, splitShard } from "../src/index.ts";
import { expectRejected } from "./payload-check.ts";

const MIN = "-9223372036854775808";
const END = "9223372036854775808";

describe("router messages", () => {
  it("shard-map.published accepts ranges tiling the keyspace", () => {
    const map = {
      database: "orders",
      version: 2,
      ranges: [
        { shard: 0, from: MIN, to: "0" },
        { shard: 1, from: "0", to: END },
      ],
    };
    expect(parseMessageData(shardMapPublished, map)).toEqual(map);
    const single = { database: "orders", version: 1, ranges: [{ shard: 0, from: MIN, to: END }] };
    expect(parseMessageData(shardMapPublished, single)).toEqual(single);
  });

  it.each([
    [[{ shard: 0, from: "-9223372036854775809", to: END }], "ranges.0.from"],
    [[{ shard: 0, from: MIN, to: "9223372036854775809" }], "ranges.0.to"],
    [[{ shard: 0, from: MIN, to: "1e3" }], "ranges.0.to"],
    [[{ shard: 0, from: MIN, to: 0 }], "ranges.0.to"],
    [[{ shard: 0, from: MIN, to: "007" }], "ranges.0.to"],
    [[{ shard: 0, from: "5", to: "5" }], "ranges.0.to"],
    [
      [
        { shard: 0, from: MIN, to: "0" },
        { shard: 1, from: "1", to: END },
      ],
      "ranges.1.from",
    ],
    [[{ shard: 0, from: MIN, to: "0" }], "ranges"],
    [[], "ranges"],
  ])("shard-map.published rejects %j at %j", (ranges, path) => {
    expectRejected(shardMapPublished, { database: "orders", version: 1, ranges }, path);
  });

  it("shard.hot and split-shard", () => {
    const hot = {
      database: "orders",
      shard: 3,
      rate: 900,
      medianRate: 100,
      multiple: 9,
      windowSeconds: 60,
      detectedAt: "2026-01-01T00:00:00.000Z",
    };
    expect(parseMessageData(shardHot, hot)).toEqual(hot);
    expectRejected(shardHot, { ...hot, windowSeconds: 0 }, "windowSeconds");
    expect(parseMessageData(splitShard, { database: "orders", shard: 3 })).toEqual({
      database: "orders",
      shard: 3,
    });
    expect(parseMessageData(splitShard, { database: "orders", shard: 3, at: "-42" }).at).toBe("-42");
    expectRejected(splitShard, { database: "orders", shard: 3, at: END }, "at");
  });
});
