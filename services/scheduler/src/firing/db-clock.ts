/**
 * Maps the database's clock onto this process's, so a timer armed here fires when the database
 * says an occurrence is due, whatever the pod's clock says.
 *
 * Each sample pairs a database `now()` (the start of its statement) with the local time just
 * before the query was sent. The server sees the query after a network and queue delay that is
 * never negative, so `dbNow − sentAt` overestimates the offset by that delay; the smallest of the
 * recent samples is the closest estimate. Old samples age out so that drift is followed.
 */
export class DbClock {
  readonly #samples: { offset: number; at: number }[] = [];
  readonly #windowMs: number;
  #offset = 0;

  constructor(windowMs = 60_000) {
    this.#windowMs = windowMs;
  }

  /** Records `dbNow` returned by a statement sent at local `sentAtMs` (Date.now()). */
  observe(dbNow: Date, sentAtMs: number): void {
    const at = Date.now();
    this.#samples.push({ offset: dbNow.getTime() - sentAtMs, at });
    while (this.#samples.length > 0 && at - this.#samples[0]!.at > this.#windowMs) this.#samples.shift();
    if (this.#samples.length > 64) this.#samples.shift();
    this.#offset = Math.min(...this.#samples.map((s) => s.offset));
  }

  /** The database's clock minus this process's, estimated (ms). */
  get offsetMs(): number {
    return this.#offset;
  }

  /** The database's now, estimated (ms since the epoch). */
  now(): number {
    return Date.now() + this.#offset;
  }

  /** Milliseconds from now until the database's clock reads `dbTime`. */
  until(dbTime: Date): number {
    return dbTime.getTime() - this.now();
  }
}
