import { assertTiling, type KeyRange } from "./keyspace.ts";

/**
 * An immutable index over a tiling set of ranges: `find(hash)` by binary search over the range
 * starts, held in a BigInt64Array so a lookup allocates nothing.
 */
export class RangeLookup {
  readonly ranges: readonly KeyRange[];
  readonly #starts: BigInt64Array;

  /** Throws InvalidRangesError unless `ranges` tile the keyspace in order. */
  constructor(ranges: readonly KeyRange[]) {
    assertTiling(ranges);
    this.ranges = Object.freeze([...ranges]);
    this.#starts = BigInt64Array.from(ranges.map((r) => r.from));
  }

  /** The range that owns `hash` (a signed 64-bit value). */
  find(hash: bigint): KeyRange {
    const starts = this.#starts;
    let lo = 0;
    let hi = starts.length - 1;
    // Invariant: starts[lo] <= hash (starts[0] is the keyspace minimum), answer in [lo, hi].
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= hash) lo = mid;
      else hi = mid - 1;
    }
    return this.ranges[lo]!;
  }

  /** The shard index that owns `hash`. */
  shardFor(hash: bigint): number {
    return this.find(hash).shard;
  }

  /** Every range a shard owns (a shard may own several after merges or moves). */
  rangesOf(shard: number): KeyRange[] {
    return this.ranges.filter((r) => r.shard === shard);
  }
}
