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
 * deletes runs older than the age, then each job's runs beyond the count — the global retention
 * for jobs without one of their own, then each job's own (`retention` in its definition) — in
 * batches of a short transaction each that skip rows another one holds. Every replica runs one;
 * they skip each other's rows rather than wait. It never locks a job row, so claiming and
 * completing (which lock jobs and insert runs) do not wait on it. A run whose webhook delivery
 * is still open, or whose end is not yet announced, is kept until it is.
 */
export class RunPruner {
  readonly #o: RunPrunerOptions;
  readonly #round: RepeatingRound;

  constructor(options: RunPrunerOptions) {
    this.#o = options;
    this.#round = new RepeatingRound("prune runs", options.everyMs, () => this.#prune(), options.logger);
  }

  /** Runs even with the global retention off: jobs may have their own. */
  start(): void {
    this.#round.start();
  }

  /** No further round; a round in progress ends after its current batch. */
  stop(): Promise<void> {
    return this.#round.stop();
  }

  async #prune(): Promise<void> {
    const { store, retention } = this.#o;
    if (retention.ageMs !== null) {
      const before = ageCutOff(retention.ageMs);
      await this.#batches("age", (batch) => store.pruneRuns(before, batch));
    }
    if (retention.count !== null) {
      const keep = retention.count;
      await this.#pages(async (afterId, size) => {
        const page = await store.jobsOverRunCount(keep, afterId, size);
        for (const { jobId, over } of page) {
          if (over) await this.#batches("count", (batch) => store.pruneJobRuns(jobId, keep, batch));
        }
        return page.map((j) => j.jobId);
      });
    }
    await this.#pages(async (afterId, size) => {
      const page = await store.jobRetentions(afterId, size);
      for (const { jobId, retention: own } of page) {
        if (own.ageMs !== undefined) {
          const before = ageCutOff(own.ageMs);
          await this.#batches("age", (batch) => store.pruneJobRunsBefore(jobId, before, batch));
        }
        const keep = own.count;
        if (keep !== undefined) {
          await this.#batches("count", (batch) => store.pruneJobRuns(jobId, keep, batch));
        }
      }
      return page.map((j) => j.jobId);
    });
  }

  /** Deletes batch after batch until one comes back short (or the pruner stops). */
  async #batches(reason: "age" | "count", prune: (batch: number) => Promise<number>): Promise<void> {
    const batch = this.#o.batch ?? 1_000;
    for (;;) {
      if (this.#round.stopped) return;
      const n = await prune(batch);
      this.#o.pruned.inc({ reason }, n);
      if (n < batch) return;
    }
  }

  /** Walks jobs page by page in id order; `visit` returns the ids of the page it handled. */
  async #pages(visit: (afterId: string, size: number) => Promise<string[]>): Promise<void> {
    const size = this.#o.jobsPerPage ?? 200;
    let afterId = "";
    for (;;) {
      if (this.#round.stopped) return;
      const ids = await visit(afterId, size);
      if (ids.length < size) return;
      afterId = ids.at(-1)!;
    }
  }
}

/**
 * Ages are at least 10 minutes: a pod clock a few seconds off the database's moves the cut-off
 * by as much, which does not matter here.
 */
function ageCutOff(ageMs: number): Date {
  return new Date(Date.now() - ageMs);
}
