import type { Logger } from "@dbplane/service-kit";

/**
 * One periodic duty of the firing loop (claiming, renewing leases), owning its timer: runs `step`
 * at `start` (or a given delay after it), then again `everyMs` after each round ended, so rounds
 * never overlap. `everyMs` may be a function, asked before each wait (a period with jitter). A
 * failed round is logged and the next one comes as usual.
 */
export class RepeatingRound {
  readonly #name: string;
  readonly #everyMs: number | (() => number);
  readonly #step: () => Promise<void>;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #current: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(name: string, everyMs: number | (() => number), step: () => Promise<void>, log: Logger) {
    this.#name = name;
    this.#everyMs = everyMs;
    this.#step = step;
    this.#log = log;
  }

  /** Set by `stop`: a round that loops (claiming batch after batch) ends at its next check. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** The first round now, or after `firstDelayMs`. */
  start(firstDelayMs = 0): void {
    if (firstDelayMs > 0) this.#timer = setTimeout(this.#run, firstDelayMs);
    else this.#run();
  }

  /** No further round; resolves when the one in progress has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#current;
  }

  readonly #run = (): void => {
    if (this.#stopped) return;
    const startedAt = Date.now();
    this.#current = this.#step()
      .catch((err: unknown) => this.#log.error({ err }, `${this.#name} failed; retrying next round`))
      .finally(() => {
        const tookMs = Date.now() - startedAt;
        const everyMs = typeof this.#everyMs === "number" ? this.#everyMs : this.#everyMs();
        // A round far longer than its period starves firing (claims) or risks leases (renewals).
        if (tookMs > Math.max(5_000, 10 * everyMs)) {
          this.#log.warn({ tookMs }, `${this.#name} round was slow`);
        }
        if (!this.#stopped) this.#timer = setTimeout(this.#run, everyMs);
      });
  };
}
