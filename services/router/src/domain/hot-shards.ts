/** The median of `values` (the mean of the middle two for an even count); 0 for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface HotShardPolicy {
  /** Hot above this multiple of the median rate of the database's shards. */
  readonly multiple: number;
  /** …and above this absolute rate, so an idle database never has a "hot" shard. */
  readonly minRate: number;
}

export interface HotShard {
  readonly shard: number;
  readonly rate: number;
  readonly medianRate: number;
  readonly multiple: number;
}

/**
 * The shards of one database whose rate exceeds `multiple × median` and `minRate`. With two
 * shards the median is their mean, so no shard can exceed a multiple ≥ 2 of it: detection needs
 * three shards or more (or a multiple below 2).
 */
export function hotShards(
  rates: readonly { shard: number; rate: number }[],
  policy: HotShardPolicy,
): HotShard[] {
  const m = median(rates.map((r) => r.rate));
  return (
    rates
      .filter((r) => r.rate > policy.minRate && r.rate > policy.multiple * m)
      // Against an idle median the ratio is unbounded; it is then stated relative to 1 query/s.
      .map((r) => ({ shard: r.shard, rate: r.rate, medianRate: m, multiple: m > 0 ? r.rate / m : r.rate }))
  );
}

/**
 * Tracks since when each shard has been hot; a shard is reported once it stayed hot for
 * `sustainMs` (a single check that finds it cool resets it).
 */
export class SustainedHeat {
  readonly #since = new Map<string, number>();

  /** Updates with this check's hot set; returns the keys hot for at least `sustainMs`. */
  observe(hotKeys: ReadonlySet<string>, allKeys: Iterable<string>, now: number, sustainMs: number): string[] {
    for (const key of allKeys) if (!hotKeys.has(key)) this.#since.delete(key);
    const due: string[] = [];
    for (const key of hotKeys) {
      const since = this.#since.get(key) ?? now;
      this.#since.set(key, since);
      if (now - since >= sustainMs) due.push(key);
    }
    return due;
  }
}
