import type { Logger } from "@dbplane/service-kit";
import { ReshardMachine, type ReshardMachineDeps } from "./reshard-machine.ts";
import type { Reshard } from "./reshard-store.ts";

export interface ReshardRunnerOptions {
  readonly deps: ReshardMachineDeps;
  /** How long a claim lasts without renewal; a dead runner's reshard is taken over after it. */
  readonly leaseMs: number;
  /** Between looks for a reshard to run. */
  readonly claimEveryMs: number;
  readonly logger: Logger;
  /** Builds the machine that runs a claimed reshard; tests replace it. */
  readonly machine?: (deps: ReshardMachineDeps, reshard: Reshard, signal: AbortSignal) => RunnableReshard;
}

/** What the runner needs of a machine: run it, and end it when it keeps stopping with an error. */
export interface RunnableReshard {
  run(): Promise<void>;
  readonly reshard: Reshard;
  giveUp(message: string): Promise<void>;
}

/**
 * Runs reshards on this replica: claims one nobody holds (or whose holder's lease ran out),
 * renews the lease while its machine runs, and stops the machine when the lease is lost. Any
 * replica can run any reshard; a kill -9 of the runner hands it to the next one after the lease.
 * An error that escapes the machine (outside a step: its own bookkeeping or rollback failed)
 * counts as a failed attempt of the phase, like a failed step: the reshard is taken again after
 * the lease, and fails for good after `maxAttempts` instead of being re-claimed for ever.
 */
export class ReshardRunner {
  readonly #o: ReshardRunnerOptions;
  readonly #log: Logger;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;
  #current: { reshard: Reshard; abort: AbortController } | undefined;

  constructor(options: ReshardRunnerOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: "reshard-runner" });
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Looks for work now (a reshard was just requested). */
  wake(): void {
    this.#wake?.();
  }

  /** The reshard this replica runs now, if any. */
  get running(): Reshard | undefined {
    return this.#current?.reshard;
  }

  /** Stops the machine where it is (its phase is recorded) and gives the reshard back. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#current?.abort.abort();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      try {
        const reshard = await this.#o.deps.store.claim(this.#o.deps.owner, this.#o.leaseMs);
        if (reshard) await this.#runOne(reshard);
      } catch (err) {
        this.#log.warn({ err }, "reshard claim failed");
      }
      if (this.#stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#o.claimEveryMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  async #runOne(reshard: Reshard): Promise<void> {
    const abort = new AbortController();
    this.#current = { reshard, abort };
    const { store, owner } = this.#o.deps;
    this.#log.info(
      { reshard: reshard.id, database: reshard.database, phase: reshard.phase },
      "reshard claimed",
    );
    const renewal = setInterval(
      () => {
        store.renew(reshard.id, owner, this.#o.leaseMs).catch((err: unknown) => {
          this.#log.warn({ err, reshard: reshard.id }, "reshard lease lost; stopping here");
          abort.abort();
        });
      },
      Math.max(100, Math.floor(this.#o.leaseMs / 3)),
    );
    const machine = (this.#o.machine ?? ((d, r, s) => new ReshardMachine(d, r, s)))(
      this.#o.deps,
      reshard,
      abort.signal,
    );
    try {
      await machine.run();
    } catch (err) {
      if (!abort.signal.aborted) await this.#crashed(machine, err);
    } finally {
      clearInterval(renewal);
      this.#current = undefined;
      if (this.#stopping) await store.release(reshard.id, owner).catch(() => {});
    }
  }

  /** Counts an escaped error as a failed attempt; the last one allowed ends the reshard as failed. */
  async #crashed(machine: RunnableReshard, err: unknown): Promise<void> {
    const { store, owner, timings } = this.#o.deps;
    const reshard = machine.reshard;
    const attempts = reshard.attempts + 1;
    const message = err instanceof Error ? err.message : String(err);
    this.#log.warn({ err, reshard: reshard.id, phase: reshard.phase, attempts }, "reshard stopped");
    try {
      if (attempts >= timings.maxAttempts) {
        await machine.giveUp(`stopped with an error ${attempts} times in phase ${reshard.phase}: ${message}`);
      } else {
        await store.update(reshard.id, owner, { attempts, error: message });
      }
    } catch (recordErr) {
      // The database is down or the lease is gone: the attempt is counted by whoever runs it next.
      this.#log.warn({ err: recordErr, reshard: reshard.id }, "reshard attempt not recorded");
    }
  }
}
