import type { Logger } from "@dbplane/service-kit";
import type { CompletionResult, OccurrenceResult } from "../store/completion.ts";
import type { SchedulerStore } from "../store/scheduler-store.ts";
import type { FiredEventData } from "./firing-events.ts";

/** A settled occurrence to record; `fired` is its `job.fired` event, emitted once the run is recorded. */
export interface SettledOccurrence extends OccurrenceResult {
  readonly fired?: FiredEventData;
}

export interface CompletionBatcherOptions {
  readonly store: SchedulerStore;
  readonly owner: string;
  readonly horizonMs: number;
  readonly leaseMs: number;
  readonly logger: Logger;
  /** Called with every batch's result (in order) and the results it settled. */
  readonly onCompleted: (result: CompletionResult, batch: readonly SettledOccurrence[]) => void;
}

/** Batches close together so one transaction settles many occurrences (20,000 due at once is one-digit batches). */
const MAX_BATCH = 2_000;
const LINGER_MS = 5;
const RETRY_MS = [100, 250, 500, 1_000, 2_000] as const;

/**
 * Records settled occurrences in batches: one `store.complete` transaction for everything that
 * settled within a few milliseconds, one transaction at a time. A failed write (PostgreSQL down)
 * is retried with the same results — recording is idempotent — until it succeeds or `stop`.
 */
export class CompletionBatcher {
  readonly #o: CompletionBatcherOptions;
  #queue: SettledOccurrence[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #stopped = false;

  constructor(options: CompletionBatcherOptions) {
    this.#o = options;
  }

  add(result: SettledOccurrence): void {
    this.#queue.push(result);
    if (this.#flushing) return;
    if (this.#queue.length >= MAX_BATCH) this.#flushSoon(0);
    else this.#timer ??= setTimeout(() => this.#flushSoon(0), LINGER_MS);
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Writes everything queued; with `final`, gives up retrying after a few attempts. */
  async drain(): Promise<void> {
    this.#stopped = true;
    while (this.#flushing || this.#queue.length > 0) {
      if (!this.#flushing) this.#flushSoon(0);
      await this.#flushing;
    }
  }

  #flushSoon(attempt: number): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#flushing || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, MAX_BATCH);
    this.#flushing = this.#write(batch, attempt).finally(() => {
      this.#flushing = undefined;
      if (this.#queue.length > 0) this.#flushSoon(0);
    });
  }

  async #write(batch: SettledOccurrence[], attempt: number): Promise<void> {
    const { store, owner, horizonMs, leaseMs } = this.#o;
    try {
      const result = await store.complete(owner, batch, { horizonMs, leaseMs });
      this.#o.onCompleted(result, batch);
    } catch (err) {
      const pause = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]!;
      if (this.#stopped && attempt >= 3) {
        // Unrecorded runs are not lost work: the claims expire and the next holder re-fires
        // the same occurrence ids, which JetStream deduplicates, records them and emits their job.fired.
        this.#o.logger.error({ err, runs: batch.length }, "giving up recording runs at shutdown");
        return;
      }
      this.#o.logger.warn({ err, runs: batch.length, attempt }, "recording runs failed; retrying");
      this.#queue.unshift(...batch);
      await new Promise((resolve) => setTimeout(resolve, pause));
      const retry = this.#queue.splice(0, MAX_BATCH);
      await this.#write(retry, attempt + 1);
    }
  }
}
