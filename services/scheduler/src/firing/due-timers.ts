/**
 * Timers grouped by the local millisecond they are due: one Node timer per distinct
 * millisecond. At 5,000 firings a second a timer per occurrence meant a socket write per publish
 * (nats.js coalesces only what is sent within one microtask checkpoint); grouped, a
 * millisecond's publishes leave in a few writes, and a burst of 50,000 due at the same instant
 * is one timer, not 50,000.
 *
 * What is due is handed over in slices (at most `sliceItems` items, or `sliceMs` of work) with
 * `setImmediate` between them, so a burst never holds the event loop: acks, HTTP, the claim
 * round and the timers of the next milliseconds run between slices. Handed over in one
 * callback, a 25,000-occurrence burst held a replica's loop for 1–2 s (bench scheduler).
 */
interface Bucket<T> {
  readonly key: number;
  timer?: NodeJS.Timeout;
  /** Its timer fired: its items wait in the ready queue. */
  ready: boolean;
  readonly items: Set<T>;
}

export interface DueSlices {
  /** Most items handed over between two turns of the event loop. */
  readonly sliceItems: number;
  /** Most milliseconds spent handing over before yielding (checked every `chunkItems`). */
  readonly sliceMs: number;
  /** Items per `onDue` call within a slice: they share a write. */
  readonly chunkItems: number;
}

export const DEFAULT_DUE_SLICES: DueSlices = { sliceItems: 256, sliceMs: 5, chunkItems: 64 };

export class DueTimers<T> {
  readonly #buckets = new Map<number, Bucket<T>>();
  /** Due buckets in due order, handed over slice by slice. */
  readonly #ready: Bucket<T>[] = [];
  #readyHead = 0;
  #draining = false;
  readonly #onDue: (items: T[]) => void;
  readonly #slices: DueSlices;

  constructor(onDue: (items: T[]) => void, slices: DueSlices = DEFAULT_DUE_SLICES) {
    this.#onDue = onDue;
    this.#slices = slices;
  }

  /** Schedules `item` for local time `atMs` (rounded up to the millisecond); returns its key for `cancel`. */
  add(atMs: number, item: T): number {
    const key = Math.ceil(atMs);
    const bucket = this.#buckets.get(key);
    if (bucket) {
      bucket.items.add(item);
      return key;
    }
    const created: Bucket<T> = { key, ready: false, items: new Set<T>([item]) };
    this.#buckets.set(key, created);
    this.#arm(created);
    return key;
  }

  /**
   * Node's timers run on libuv's millisecond-truncated monotonic clock, so a callback can run up
   * to a millisecond before `Date.now()` reaches the due time (seen in CI). Never hand over early:
   * re-arm for the remainder instead.
   */
  #arm(bucket: Bucket<T>): void {
    bucket.timer = setTimeout(
      () => {
        if (Date.now() < bucket.key) {
          this.#arm(bucket);
          return;
        }
        bucket.ready = true;
        this.#ready.push(bucket);
        // A slice starts here at once when nothing is queued before it (the usual case: a
        // few items a millisecond); behind a burst it waits its turn in due order.
        if (!this.#draining) this.#drain();
      },
      Math.max(0, bucket.key - Date.now()),
    );
  }

  readonly #drain = (): void => {
    const { sliceItems, sliceMs, chunkItems } = this.#slices;
    const started = performance.now();
    let handed = 0;
    while (handed < sliceItems && performance.now() - started < sliceMs) {
      const chunk = this.#take(Math.min(chunkItems, sliceItems - handed));
      if (chunk.length === 0) break;
      handed += chunk.length;
      this.#onDue(chunk);
    }
    this.#draining = this.#readyHead < this.#ready.length;
    if (this.#draining) {
      // Under a sustained backlog the queue may never empty: drop its handed-over head now and then.
      if (this.#readyHead >= 1_024) {
        this.#ready.splice(0, this.#readyHead);
        this.#readyHead = 0;
      }
      setImmediate(this.#drain);
    } else {
      this.#ready.length = 0;
      this.#readyHead = 0;
    }
  };

  /** Takes up to `n` items from the ready buckets, in due order; emptied buckets are forgotten. */
  #take(n: number): T[] {
    const out: T[] = [];
    while (out.length < n && this.#readyHead < this.#ready.length) {
      const bucket = this.#ready[this.#readyHead]!;
      for (const item of bucket.items) {
        bucket.items.delete(item);
        out.push(item);
        if (out.length === n) break;
      }
      if (bucket.items.size > 0) break;
      this.#ready[this.#readyHead++] = undefined as unknown as Bucket<T>;
      if (this.#buckets.get(bucket.key) === bucket) this.#buckets.delete(bucket.key);
    }
    return out;
  }

  /** Unschedules `item` from the bucket `key`; a no-op when it was already handed over or cancelled. */
  cancel(key: number, item: T): void {
    const bucket = this.#buckets.get(key);
    if (!bucket?.items.delete(item) || bucket.items.size > 0) return;
    // A ready bucket left empty is skipped by the drain; an armed one loses its timer.
    if (!bucket.ready) clearTimeout(bucket.timer);
    this.#buckets.delete(key);
  }

  /** Distinct milliseconds with items armed or due and not yet handed over. */
  get buckets(): number {
    return this.#buckets.size;
  }
}
