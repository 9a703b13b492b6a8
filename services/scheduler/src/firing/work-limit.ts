/**
 * At most `limit` tasks at once; the rest wait in arrival order. Firing uses it so a burst of
 * due occurrences does not open thousands of publish requests at once, and publishes go out in
 * due order.
 */
export class WorkLimit {
  readonly #limit: number;
  readonly #waiting: (() => void)[] = [];
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
      const next = this.#waiting.shift();
      if (next) next();
      else if (--this.#active === 0) {
        this.#idle?.resolve();
        this.#idle = undefined;
      }
    }
  }

  /** Tasks running plus waiting. */
  get size(): number {
    return this.#active + this.#waiting.length;
  }

  /** Resolves when nothing runs or waits. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }
}
