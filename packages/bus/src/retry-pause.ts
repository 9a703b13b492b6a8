/** Uniform random numbers in [0, 1), as `Math.random`; tests inject their own. */
export type RandomSource = () => number;

/** Bounds of a {@link decorrelatedJitter} series. */
export interface JitterOptions {
  /** The shortest pause, and the first pause's lower bound. */
  readonly baseMs: number;
  /** The longest pause. */
  readonly capMs: number;
  readonly random?: RandomSource;
}

/**
 * Pauses between retries with decorrelated jitter (Marc Brooker, "Exponential Backoff and
 * Jitter", AWS Architecture Blog): each pause is drawn uniformly from [base, 3 × the previous
 * pause], at most `capMs`. Retriers that failed together — every publisher riding out one NATS
 * restart — spread out instead of returning in lockstep, and unlike full jitter no pause is 0,
 * so a retrier never hot-loops. Returns the series: call it once per retry.
 */
export function decorrelatedJitter(options: JitterOptions): () => number {
  const { baseMs, capMs, random = Math.random } = options;
  if (!(baseMs > 0 && capMs >= baseMs)) throw new RangeError("need 0 < baseMs <= capMs");
  let previous = baseMs;
  return () => {
    previous = Math.min(capMs, baseMs + random() * (previous * 3 - baseMs));
    return Math.floor(previous);
  };
}

/**
 * A pause drawn uniformly from [0, ceilingMs) ("full jitter", same article): for a retrier whose
 * schedule is its own (a fixed step per attempt) and that only needs to leave in a random order.
 */
export function fullJitter(ceilingMs: number, random: RandomSource = Math.random): number {
  return Math.floor(random() * ceilingMs);
}
