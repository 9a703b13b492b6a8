import type { DatabaseReady } from "@dbplane/contracts";
import { describe, expect, it } from "vitest";
import { initialShardMap, refreshedShardMap, shardMapDocument } from "../src/domain/shard-map.ts";
import { mapWithoutShard, RemovedShardOwnsRangeError } from "../src/domain/shard-removal.ts";

const endpoint = (shard: number) => ({
  shard,
  primary: { host: "127.0.0.1", port: 5432 + shard },
  replicas: [],
  dbname: "shop",
  user: "postgres",
  passwordRef: { kind: "file" as const, path: `/tmp/pw-${shard}` },
});
const ready = (count: number): DatabaseReady => ({
  name: "shop",
  version: count,
  postgresVersion: 17,
  shards: Array.from({ length: count }, (_, i) => endpoint(i)),
  shardedTables: [],
});
const now = new Date("2026-01-01T00:00:00Z");

describe("a removed shard leaves the map", () => {
  // Two shards own the keyspace; shard 2 joined (a split's new shard) and owns nothing.
  const v1 = initialShardMap(ready(2), now);
  const v2 = refreshedShardMap(v1, ready(3), now)!;

  it("gives the next version without the shard, the ranges untouched", () => {
    const next = mapWithoutShard(v2, 2, now)!;
    expect(next.version).toBe(3);
    expect(next.shards.map((s) => s.shard)).toEqual([0, 1]);
    expect(next.ranges).toEqual(v2.ranges);
    expect(shardMapDocument.safeParse(next).success).toBe(true);
  });

  it("changes nothing for a shard the map does not list (a redelivery)", () => {
    expect(mapWithoutShard(mapWithoutShard(v2, 2, now)!, 2, now)).toBeUndefined();
    expect(mapWithoutShard(v2, 9, now)).toBeUndefined();
  });

  it("refuses a shard that owns a range: every key keeps an owner", () => {
    expect(() => mapWithoutShard(v2, 1, now)).toThrow(RemovedShardOwnsRangeError);
    expect(() => mapWithoutShard(v2, 1, now)).toThrow(/shard 1 of shop was removed but owns 1 range/);
  });
});
