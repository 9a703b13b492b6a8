import { assertTiling, type KeyRange } from "./keyspace.ts";

/**
 * An immutable index over a tiling set of ranges: `find(hash)` by binary search over the range
 * starts, held in a BigInt64Array so a lookup allocates nothing.
 */
export class RangeLookup {
  readonly ranges: readonly KeyRange[];
  readonly #starts: BigInt64Array;
  /** `#starts` as halves: high 32 bits signed, low 32 bits unsigned (lookups without BigInt). */
  readonly #startsHi: Int32Array;
  readonly #startsLo: Uint32Array;

  /** Throws InvalidRangesError unless `ranges` tile the keyspace in order. */
  constructor(ranges: readonly KeyRange[]) {
    assertTiling(ranges);
    this.ranges = Object.freeze([...ranges]);
    this.#starts = BigInt64Array.from(ranges.map((r) => r.from));
    this.#startsHi = Int32Array.from(ranges.map((r) => Number(BigInt.asIntN(32, r.from >> 32n))));
    this.#startsLo = Uint32Array.from(ranges.map((r) => Number(BigInt.asUintN(32, r.from))));
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

  /**
   * `shardFor` of the hash whose high 32 bits are `hi` (signed int32) and low 32 bits `lo`
   * (uint32), as `hashUint32Halves` gives them: no BigInt made or compared.
   */
  shardForHalves(hi: number, lo: number): number {
    const startsHi = this.#startsHi;
    const startsLo = this.#startsLo;
    let low = 0;
    let high = startsHi.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      const midHi = startsHi[mid]!;
      if (midHi < hi || (midHi === hi && startsLo[mid]! <= lo)) low = mid;
      else high = mid - 1;
    }
    return this.ranges[low]!.shard;
  }

  /** Every range a shard owns (a shard may own several after merges or moves). */
  rangesOf(shard: number): KeyRange[] {
    return this.ranges.filter((r) => r.shard === shard);
  }
}
