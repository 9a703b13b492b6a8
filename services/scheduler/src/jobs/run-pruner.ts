import type { Logger } from "@dbplane/service-kit";
import type { Counter } from "prom-client";
import type { RunRetention } from "../domain/run-retention.ts";
import { RepeatingRound } from "../firing/repeating-round.ts";
import type { SchedulerStore } from "../store/scheduler-store.ts";

export interface RunPrunerOptions {
  readonly store: SchedulerStore;
  readonly retention: RunRetention;
  readonly everyMs: number;
  /** Rows per DELETE: each is its own short transaction. */
  readonly batch?: number;
  /** Jobs whose cut-off is looked up per query when pruning by count. */
  readonly jobsPerPage?: number;
  readonly pruned: Counter<"reason">;
  readonly logger: Logger;
}

/**
 * Keeps run history within the retention: every `everyMs` (after the previous round ended),
 * deletes runs older than the age, then each job's runs beyond the count, in batches of a
 * short transaction each that skip rows another one holds. Every replica runs one; they skip
 * each other's rows rather than wait. It never locks a job row, so claiming and completing
 * (which lock jobs and insert runs) do not wait on it.
 */
export class RunPruner {
  readonly #o: RunPrunerOptions;
  readonly #round: RepeatingRound;

  constructor(options: RunPrunerOptions) {
    this.#o = options;
    this.#round = new RepeatingRound("prune runs", options.everyMs, () => this.#prune(), options.logger);
  }

  start(): void {
    if (this.#o.retention.count === null && this.#o.retention.ageMs === null) return;
    this.#round.start();
  }

  /** No further round; a round in progress ends after its current batch. */
  stop(): Promise<void> {
    return this.#round.stop();
  }

  async #prune(): Promise<void> {
    const { store, retention, pruned } = this.#o;
    const batch = this.#o.batch ?? 1_000;
    if (retention.ageMs !== null) {
      // Ages are at least 10 minutes: a pod clock a few seconds off the database's moves the
      // cut-off by as much, which does not matter here.
      const before = new Date(Date.now() - retention.ageMs);
      for (;;) {
        if (this.#round.stopped) return;
        const n = await store.pruneRuns(before, batch);
        pruned.inc({ reason: "age" }, n);
        if (n < batch) break;
      }
    }
    if (retention.count !== null) {
      const jobsPerPage = this.#o.jobsPerPage ?? 200;
      let afterId = "";
      for (;;) {
        if (this.#round.stopped) return;
        const page = await store.jobsOverRunCount(retention.count, afterId, jobsPerPage);
        for (const { jobId, over } of page) {
          if (!over) continue;
          for (;;) {
            if (this.#round.stopped) return;
            const n = await store.pruneJobRuns(jobId, retention.count, batch);
            pruned.inc({ reason: "count" }, n);
            if (n < batch) break;
          }
        }
        if (page.length < jobsPerPage) break;
        afterId = page.at(-1)!.jobId;
      }
    }
  }
}
