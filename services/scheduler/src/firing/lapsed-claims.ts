import type { Logger } from "@dbplane/service-kit";

/** Occurrences whose lease ran out within this long of the first are reported together. */
export const LAPSE_REPORT_MS = 1_000;
/** Job ids named in one report; the count says how many there were. */
const EXAMPLES = 5;

/**
 * Reports occurrences dropped because their claim's lease ran out before they were published.
 * When it happens it happens to thousands at once (a replica too slow to renew while a burst
 * waits for its publishes): a warning per occurrence cost ~4.8 s of CPU in one such burst
 * (bench scheduler, loaded), adding to the very delay that caused it. One warning per second
 * at most, with the count and a few job ids.
 */
export class LapsedClaims {
  readonly #log: Logger;
  #count = 0;
  #examples: string[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  add(jobId: string): void {
    this.#count++;
    if (this.#examples.length < EXAMPLES) this.#examples.push(jobId);
    this.#timer ??= setTimeout(() => this.flush(), LAPSE_REPORT_MS);
  }

  /** Logs what was counted since the last report, if anything. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#count === 0) return;
    this.#log.warn(
      { occurrences: this.#count, jobIds: this.#examples },
      "lease ran out before occurrences were published; whoever claims their jobs next fires the same ids",
    );
    this.#count = 0;
    this.#examples = [];
  }
}
