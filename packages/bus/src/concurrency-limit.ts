/**
 * A counting semaphore: at most `limit` holders at once. `close()` makes every waiting and
 * future `acquire()` resolve `false`, so a loop blocked on a slot can notice a shutdown.
 */
export class ConcurrencyLimit {
  readonly limit: number;
  #active = 0;
  #closed = false;
  #waiters: ((acquired: boolean) => void)[] = [];
  #idle: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error(`concurrency must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  acquire(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#active < this.limit) {
      this.#active++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#closed ? undefined : this.#waiters.shift();
    if (next) {
      next(true); // the slot passes straight to the waiter
      return;
    }
    this.#active--;
    if (this.#active === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  close(): void {
    this.#closed = true;
    for (const resolve of this.#waiters.splice(0)) resolve(false);
  }

  /** Resolves once no slot is held. */
  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}
