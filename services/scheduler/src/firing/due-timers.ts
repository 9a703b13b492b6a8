/**
 * Timers grouped by the local millisecond they are due: one Node timer per distinct
 * millisecond, and every item due then is handed over in one synchronous callback. At 5,000
 * firings a second a timer per occurrence meant a socket write per publish (nats.js coalesces
 * only what is sent within one microtask checkpoint); grouped, a whole millisecond's publishes
 * leave in one write, and a burst of 50,000 due at the same instant is one timer, not 50,000.
 */
interface Bucket<T> {
  timer?: NodeJS.Timeout;
  readonly items: Set<T>;
}

export class DueTimers<T> {
  readonly #buckets = new Map<number, Bucket<T>>();
  readonly #onDue: (items: T[]) => void;

  constructor(onDue: (items: T[]) => void) {
    this.#onDue = onDue;
  }

  /** Schedules `item` for local time `atMs` (rounded up to the millisecond); returns its key for `cancel`. */
  add(atMs: number, item: T): number {
    const key = Math.ceil(atMs);
    const bucket = this.#buckets.get(key);
    if (bucket) {
      bucket.items.add(item);
      return key;
    }
    const created: Bucket<T> = { items: new Set<T>([item]) };
    this.#buckets.set(key, created);
    this.#arm(key, created);
    return key;
  }

  /**
   * Node's timers run on libuv's millisecond-truncated monotonic clock, so a callback can run up
   * to a millisecond before `Date.now()` reaches the due time (seen in CI). Never hand over early:
   * re-arm for the remainder instead.
   */
  #arm(key: number, bucket: Bucket<T>): void {
    bucket.timer = setTimeout(
      () => {
        if (Date.now() < key) {
          this.#arm(key, bucket);
          return;
        }
        this.#buckets.delete(key);
        this.#onDue([...bucket.items]);
      },
      Math.max(0, key - Date.now()),
    );
  }

  /** Unschedules `item` from the bucket `key`; a no-op when it already fired or was cancelled. */
  cancel(key: number, item: T): void {
    const bucket = this.#buckets.get(key);
    if (!bucket?.items.delete(item) || bucket.items.size > 0) return;
    clearTimeout(bucket.timer);
    this.#buckets.delete(key);
  }

  /** Distinct milliseconds with a timer set. */
  get buckets(): number {
    return this.#buckets.size;
  }
}
