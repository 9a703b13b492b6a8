/**
 * Cumulative counters read from a database at one instant. `resetMarker` identifies the counting
 * period (server start time, `stats_reset`): when it differs between two readings every counter
 * started again from zero, even if the new values happen to be larger than the old ones.
 */
export interface CounterReading {
  readonly atMs: number;
  readonly values: Readonly<Record<string, number>>;
  readonly resetMarker?: string | number;
}

/** How much each counter grew between two readings, and per second. */
export interface CounterDeltas {
  readonly seconds: number;
  readonly increases: Readonly<Record<string, number>>;
  readonly rates: Readonly<Record<string, number>>;
}

/**
 * Increase of one counter: the difference, or — when it went down, i.e. it was reset — the new
 * value (it counted up from zero since the reset), as Prometheus' `rate()` treats resets.
 */
export function counterIncrease(previous: number, current: number, reset = false): number {
  if (reset || current < previous) return current;
  return current - previous;
}

/**
 * Deltas between two readings of the same counters. Counters absent from either reading are
 * left out (no rate is better than a wrong one); a reading that is not later than the previous
 * one gives no deltas at all.
 */
export function counterDeltas(
  previous: CounterReading | undefined,
  current: CounterReading,
): CounterDeltas | undefined {
  if (!previous) return undefined;
  const seconds = (current.atMs - previous.atMs) / 1000;
  if (!(seconds > 0)) return undefined;
  const reset =
    previous.resetMarker !== undefined &&
    current.resetMarker !== undefined &&
    previous.resetMarker !== current.resetMarker;
  const increases: Record<string, number> = {};
  const rates: Record<string, number> = {};
  for (const [name, value] of Object.entries(current.values)) {
    const before = previous.values[name];
    if (before === undefined || !Number.isFinite(value) || !Number.isFinite(before)) continue;
    const increase = counterIncrease(before, value, reset);
    increases[name] = increase;
    rates[name] = increase / seconds;
  }
  return { seconds, increases, rates };
}

/** Sum of the named rates that are known; undefined when none is. */
export function sumRates(
  rates: Readonly<Record<string, number>>,
  names: readonly string[],
): number | undefined {
  const known = names.map((n) => rates[n]).filter((v): v is number => v !== undefined);
  return known.length === 0 ? undefined : known.reduce((a, b) => a + b, 0);
}
