import { InvalidRangesError, type KeyRange } from "./keyspace.ts";

/** The outcome of planning a split: the new tiling and the part that moves to the new shard. */
export interface SplitPlan {
  readonly ranges: KeyRange[];
  /** The range that stays with the old shard. */
  readonly kept: KeyRange;
  /** The range the new shard takes over. */
  readonly moved: KeyRange;
}

/** The middle of a half-open range, rounded down: both halves are non-empty when it has ≥ 2 values. */
export function midpoint(range: KeyRange): bigint {
  return range.from + (range.to - range.from) / 2n;
}

/**
 * Plans splitting the range of `shard` that holds `at` (or its only range, at the midpoint) into
 * `[from, at)` kept by `shard` and `[at, to)` moved to `newShard`. The other ranges are unchanged.
 */
export function planSplit(
  ranges: readonly KeyRange[],
  shard: number,
  newShard: number,
  at?: bigint,
): SplitPlan {
  if (ranges.some((r) => r.shard === newShard)) {
    throw new InvalidRangesError(`shard ${newShard} already owns a range`);
  }
  const owned = ranges.filter((r) => r.shard === shard);
  if (owned.length === 0) throw new InvalidRangesError(`shard ${shard} owns no range`);
  let target: KeyRange | undefined;
  if (at === undefined) {
    if (owned.length > 1)
      throw new InvalidRangesError(`shard ${shard} owns several ranges; name a split point`);
    target = owned[0];
  } else {
    target = owned.find((r) => at >= r.from && at < r.to);
    if (!target) throw new InvalidRangesError(`${at} is not inside a range of shard ${shard}`);
  }
  const range = target as KeyRange;
  const point = at ?? midpoint(range);
  if (point <= range.from || point >= range.to) {
    throw new InvalidRangesError(
      `split point ${point} must fall strictly inside [${range.from}, ${range.to})`,
    );
  }
  const kept: KeyRange = { shard, from: range.from, to: point };
  const moved: KeyRange = { shard: newShard, from: point, to: range.to };
  return { ranges: ranges.flatMap((r) => (r === range ? [kept, moved] : [r])), kept, moved };
}

/**
 * Gives `[from, to)` to `shard`: the range that holds it must hold all of it (a move or a merge
 * takes one piece of one owner's range); what is left of that range stays with its owner, and
 * neighbouring ranges of one shard are joined, so a merge leaves one range where there were two.
 */
export function reassignRange(
  ranges: readonly KeyRange[],
  from: bigint,
  to: bigint,
  shard: number,
): KeyRange[] {
  if (from >= to) throw new InvalidRangesError(`[${from}, ${to}) is empty`);
  const holder = ranges.find((r) => from >= r.from && from < r.to);
  if (!holder || to > holder.to) {
    throw new InvalidRangesError(`[${from}, ${to}) does not lie within one range of the map`);
  }
  if (holder.shard === shard) throw new InvalidRangesError(`shard ${shard} already owns [${from}, ${to})`);
  const pieces: KeyRange[] = [
    { shard: holder.shard, from: holder.from, to: from },
    { shard, from, to },
    { shard: holder.shard, from: to, to: holder.to },
  ].filter((r) => r.from < r.to);
  const replaced = ranges.flatMap((r) => (r === holder ? pieces : [r]));
  const joined: KeyRange[] = [];
  for (const r of replaced) {
    const last = joined.at(-1);
    if (last && last.shard === r.shard && last.to === r.from)
      joined[joined.length - 1] = { ...last, to: r.to };
    else joined.push(r);
  }
  return joined;
}
