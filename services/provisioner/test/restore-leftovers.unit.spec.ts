import { equalRanges, KEYSPACE_END, KEYSPACE_MIN } from "@dbplane/sharding";
import { describe, expect, it } from "vitest";
import { notOwned } from "../src/drivers/local/restore-leftovers.ts";

// What a restored shard deletes: the keyspace outside the ranges its map gives it.
describe("notOwned", () => {
  const [first, second] = equalRanges(2);

  it("is the rest of the keyspace for one range at either end", () => {
    expect(notOwned([first!])).toEqual([{ from: 0n, to: KEYSPACE_END }]);
    expect(notOwned([second!])).toEqual([{ from: KEYSPACE_MIN, to: 0n }]);
  });

  it("is the gaps between several ranges, in any order", () => {
    const owned = [
      { shard: 1, from: 0n, to: KEYSPACE_END },
      { shard: 1, from: KEYSPACE_MIN, to: -100n },
    ];
    expect(notOwned(owned)).toEqual([{ from: -100n, to: 0n }]);
  });

  it("is everything for a shard the map gives nothing, and nothing for one that owns it all", () => {
    expect(notOwned([])).toEqual([{ from: KEYSPACE_MIN, to: KEYSPACE_END }]);
    expect(notOwned(equalRanges(1))).toEqual([]);
  });
});
