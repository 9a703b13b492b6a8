import { setTimeout } from "node:timers/promises";
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
  /** Pause between two pages of jobs (default 20 ms): a walk over all jobs is spread out, not one burst of queries. */
  readonly pagePauseMs?: number;
  /** For tests: the random source of the start offset and the period's jitter (default Math.random). */
  readonly random?: () => number;
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
 *
 * Replicas do not prune at the same moment: each starts at a random offset within the period
 * and every period is drawn between 0.75 and 1.25 of `everyMs` (replicas started together by a
 * rollout would otherwise walk all jobs together once a minute — suspected in the bench's
 * firing spikes), and a walk pauses between pages of jobs.
 */
export class RunPruner {
  readonly #o: RunPrunerOptions;
  readonly #round: RepeatingRound;

  constructor(options: RunPrunerOptions) {
    this.#o = options;
    const random = options.random ?? Math.random;
    const period = () => Math.round(options.everyMs * (0.75 + 0.5 * random()));
    this.#round = new RepeatingRound("prune runs", period, () => this.#prune(), options.logger);
  }

  /** Runs even with the global retention off: jobs may have their own. The first round comes at a random offset. */
  start(): void {
    this.#round.start(Math.floor((this.#o.random ?? Math.random)() * this.#o.everyMs));
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
    const pauseMs = this.#o.pagePauseMs ?? 20;
    let afterId = "";
    for (;;) {
      if (this.#round.stopped) return;
      const ids = await visit(afterId, size);
      if (ids.length < size) return;
      afterId = ids.at(-1)!;
      if (pauseMs > 0) await setTimeout(pauseMs);
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
