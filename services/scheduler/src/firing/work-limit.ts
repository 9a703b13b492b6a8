/**
 * At most `limit` tasks at once; the rest wait in arrival order. Firing uses it so a burst of
 * due occurrences does not open thousands of publish requests at once, and publishes go out in
 * due order.
 */
export class WorkLimit {
  readonly #limit: number;
  // A queue as an array and a head index: shift() on tens of thousands of waiters is a copy each.
  #waiting: (() => void)[] = [];
  #head = 0;
  #active = 0;
  #idle: PromiseWithResolvers<void> | undefined;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Runs `task` when a slot is free; resolves with its result. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the first waiter, so the count never overshoots.
    if (this.#active >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    try {
      return await task();
    } finally {
      const next = this.#next();
      if (next) next();
      else if (--this.#active === 0) {
        this.#idle?.resolve();
        this.#idle = undefined;
      }
    }
  }

  #next(): (() => void) | undefined {
    if (this.#head === this.#waiting.length) return undefined;
    const next = this.#waiting[this.#head++];
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    } else if (this.#head >= 4_096 && this.#head * 2 >= this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
    return next;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /** Tasks running plus waiting. */
  get size(): number {
    return this.#active + this.#waiting.length - this.#head;
  }

  /** Resolves when nothing runs or waits. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }
}
