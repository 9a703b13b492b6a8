/**
 * A counting semaphore: at most `limit` holders at once, the rest wait in arrival order. Take a
 * slot with `run(task)`, or with `acquire()` and `release()` around the work. `close()` makes
 * every waiting and future `acquire()` resolve `false`, so a loop blocked on a slot can notice a
 * shutdown. The consumer bounds its handlers with one; the scheduler its publishes, where a
 * burst can queue tens of thousands of waiters.
 */
export class ConcurrencyLimit {
  readonly limit: number;
  #active = 0;
  #closed = false;
  // A queue as an array and a head index: shift() on tens of thousands of waiters is a copy each.
  #waiters: ((acquired: boolean) => void)[] = [];
  #head = 0;
  #idle: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error(`concurrency must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  /** Slots held now. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length - this.#head;
  }

  /** Slots held plus callers waiting. */
  get size(): number {
    return this.#active + this.waiting;
  }

  /** Resolves `true` with a slot held (release it!), or `false` once the limit is closed. */
  acquire(): Promise<boolean> {
    const now = this.#tryAcquire();
    return now === undefined ? this.#wait() : Promise.resolve(now);
  }

  release(): void {
    const next = this.#closed ? undefined : this.#next();
    if (next) {
      next(true); // the slot passes straight to the waiter, so the count never overshoots
      return;
    }
    this.#active--;
    if (this.#active === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Runs `task` when a slot is free; resolves with its result. Rejects once the limit is closed. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    // A free slot starts the task at once, in the caller's turn: a burst started in one go
    // shares one socket write (see the scheduler's firing).
    if (!(this.#tryAcquire() ?? (await this.#wait()))) throw new Error("concurrency limit closed");
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  close(): void {
    this.#closed = true;
    for (let next = this.#next(); next; next = this.#next()) next(false);
  }

  /** Resolves once no slot is held and nobody waits. */
  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** true: a free slot, now taken; false: closed; undefined: the caller must wait. */
  #tryAcquire(): boolean | undefined {
    if (this.#closed) return false;
    if (this.#active < this.limit) {
      this.#active++;
      return true;
    }
    return undefined;
  }

  #wait(): Promise<boolean> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #next(): ((acquired: boolean) => void) | undefined {
    if (this.#head === this.#waiters.length) return undefined;
    const next = this.#waiters[this.#head++];
    if (this.#head === this.#waiters.length) {
      this.#waiters = [];
      this.#head = 0;
    } else if (this.#head >= 4_096 && this.#head * 2 >= this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#head);
      this.#head = 0;
    }
    return next;
  }
}
