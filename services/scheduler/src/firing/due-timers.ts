import FlatQueue from "flatqueue";

/**
 * Items grouped by the local millisecond they are due, behind one Node timer armed for the
 * earliest. When it fires, everything due by then — every millisecond the event loop fell
 * behind, not only the one the timer was for — is handed over in one synchronous callback, so
 * its publishes share one socket write (nats.js coalesces only what is sent before the next
 * microtask checkpoint, and Node runs one after every timer callback). A timer per millisecond
 * meant a write per millisecond however far behind the loop was: at 2,500 firings a second a
 * replica spent a quarter of its CPU in those writes (40 µs each on a loopback socket here).
 * A burst of 50,000 due at the same instant is one bucket.
 */
export class DueTimers<T> {
  readonly #buckets = new Map<number, Set<T>>();
  /** Bucket keys by time; a cancelled bucket's key stays until it comes up, then is skipped. */
  readonly #keys = new FlatQueue<number>();
  readonly #onDue: (items: T[]) => void;
  #timer: NodeJS.Timeout | undefined;
  /** The key the timer is set for (Infinity: none). */
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(onDue: (items: T[]) => void) {
    this.#onDue = onDue;
  }

  /** Schedules `item` for local time `atMs` (rounded up to the millisecond); returns its key for `cancel`. */
  add(atMs: number, item: T): number {
    const key = Math.ceil(atMs);
    const bucket = this.#buckets.get(key);
    if (bucket) {
      bucket.add(item);
      return key;
    }
    this.#buckets.set(key, new Set<T>([item]));
    this.#keys.push(key, key);
    if (key < this.#armedFor) this.#arm(key);
    return key;
  }

  /** Unschedules `item` from the bucket `key`; a no-op when it already fired or was cancelled. */
  cancel(key: number, item: T): void {
    const bucket = this.#buckets.get(key);
    if (!bucket?.delete(item) || bucket.size > 0) return;
    this.#buckets.delete(key);
  }

  /** Distinct milliseconds with items scheduled. */
  get buckets(): number {
    return this.#buckets.size;
  }

  #arm(key: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = key;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, key - Date.now()));
  }

  /**
   * Hands over everything due by now, at once, when a long task of the caller's own (arming a
   * claim of 2,000, settling a completion batch) would otherwise hold it until the task ends;
   * returns whether anything was due. Cheap when nothing is: one comparison with `Date.now()`.
   */
  fireDue(): boolean {
    const first = this.#keys.peekValue();
    if (first === undefined || first > Date.now()) return false;
    return this.#fire();
  }

  /**
   * Node's timers run on libuv's millisecond-truncated monotonic clock, so a callback can run up
   * to a millisecond before `Date.now()` reaches the due time (seen in CI). Never hand over early:
   * only keys at or before `Date.now()` are taken; the timer is re-armed for the rest.
   */
  #fire(): boolean {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = Date.now();
    const due: T[] = [];
    for (let key = this.#keys.peek(); key !== undefined; key = this.#keys.peek()) {
      const bucket = this.#buckets.get(key);
      if (bucket && key > now) {
        this.#arm(key);
        break;
      }
      this.#keys.pop();
      if (!bucket) continue; // cancelled, or a repeat of a key already taken
      this.#buckets.delete(key);
      for (const item of bucket) due.push(item);
    }
    if (this.#keys.length === 0) this.#keys.shrink();
    if (due.length > 0) this.#onDue(due);
    return due.length > 0;
  }
}
