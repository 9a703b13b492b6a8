/** First position of the keyspace (inclusive): the smallest signed 64-bit value. */
export const KEYSPACE_MIN = -(2n ** 63n);
/** End of the keyspace (exclusive): 2^63, so that the last range is half-open like the others. */
export const KEYSPACE_END = 2n ** 63n;

/** A half-open range `[from, to)` of hash values owned by one shard. */
export interface KeyRange {
  readonly shard: number;
  readonly from: bigint;
  readonly to: bigint;
}

/** The same range with decimal-string bounds, as messages and JSON carry it (2^53 is too small). */
export interface KeyRangeText {
  readonly shard: number;
  readonly from: string;
  readonly to: string;
}

/** Ranges that do not tile the keyspace; `message` says where. */
export class InvalidRangesError extends Error {
  override readonly name = "InvalidRangesError";
  readonly code = "INVALID_RANGES";
}

/**
 * Splits the keyspace into `count` contiguous ranges of equal size (the last absorbs the
 * remainder of the integer division), shard i owning the i-th.
 */
export function equalRanges(count: number, shards?: readonly number[]): KeyRange[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError("count must be a positive integer");
  const ids = shards ?? Array.from({ length: count }, (_, i) => i);
  if (ids.length !== count) throw new RangeError("shards must list exactly count shard indexes");
  const size = (KEYSPACE_END - KEYSPACE_MIN) / BigInt(count);
  return ids.map((shard, i) => ({
    shard,
    from: KEYSPACE_MIN + size * BigInt(i),
    to: i === count - 1 ? KEYSPACE_END : KEYSPACE_MIN + size * BigInt(i + 1),
  }));
}

/**
 * Checks that ranges are ordered by `from`, non-empty, and tile `[-2^63, 2^63)` with no gap and
 * no overlap; throws InvalidRangesError naming the first offending range otherwise.
 */
export function assertTiling(ranges: readonly KeyRange[]): void {
  if (ranges.length === 0) throw new InvalidRangesError("a shard map needs at least one range");
  let expected = KEYSPACE_MIN;
  for (const [i, r] of ranges.entries()) {
    if (r.from !== expected) {
      throw new InvalidRangesError(
        `range ${i} (shard ${r.shard}) starts at ${r.from}, expected ${expected}: ${r.from > expected ? "gap" : "overlap"}`,
      );
    }
    if (r.to <= r.from) throw new InvalidRangesError(`range ${i} (shard ${r.shard}) is empty`);
    expected = r.to;
  }
  if (expected !== KEYSPACE_END) {
    throw new InvalidRangesError(`ranges end at ${expected}, expected ${KEYSPACE_END}`);
  }
}

/** Bigint bounds → decimal strings. */
export function rangesToText(ranges: readonly KeyRange[]): KeyRangeText[] {
  return ranges.map((r) => ({ shard: r.shard, from: r.from.toString(), to: r.to.toString() }));
}

/** Decimal strings → bigint bounds (no tiling check; see assertTiling). */
export function rangesFromText(ranges: readonly KeyRangeText[]): KeyRange[] {
  return ranges.map((r) => ({ shard: r.shard, from: BigInt(r.from), to: BigInt(r.to) }));
}

/** True if `hash` lies in `[range.from, range.to)`. */
export function rangeContains(range: KeyRange, hash: bigint): boolean {
  return hash >= range.from && hash < range.to;
}
