import type { Logger } from "@dbplane/service-kit";
import type { SchedulerMetrics } from "../scheduler-metrics.ts";
import type { ClaimResult } from "../store/claims.ts";
import type { SchedulerStore } from "../store/scheduler-store.ts";
import type { DbClock } from "./db-clock.ts";
import { RepeatingRound } from "./repeating-round.ts";

/** How often a round also looks for claims whose lease ran out. */
const EXPIRED_CHECK_MS = 1_000;

export interface ClaimLoopOptions {
  readonly store: SchedulerStore;
  readonly owner: string;
  readonly tickMs: number;
  readonly horizonMs: number;
  readonly leaseMs: number;
  readonly claimLimit: number;
  readonly metrics: SchedulerMetrics;
  readonly logger: Logger;
  /** Learns the database's clock from every claim. */
  readonly clock: DbClock;
  /** Takes each batch claimed: arms its occurrences, reports what the claim found missed. */
  readonly onClaimed: (result: ClaimResult) => void;
}

/**
 * Claims, every tick, the jobs due within the horizon that nobody holds (`FOR UPDATE SKIP
 * LOCKED`: replicas get disjoint sets), batch after batch while a batch comes back full.
 */
export class ClaimLoop {
  readonly #o: ClaimLoopOptions;
  readonly #round: RepeatingRound;
  #expiredCheckedAt = 0;
  #lastTickAt: Date | null = null;

  constructor(options: ClaimLoopOptions) {
    this.#o = options;
    this.#round = new RepeatingRound("claim", options.tickMs, () => this.#claim(), options.logger);
  }

  start(): void {
    this.#round.start();
  }

  /** The database time of the last claim round that completed; null before the first. */
  get lastTickAt(): Date | null {
    return this.#lastTickAt;
  }

  /** No further claim; resolves when the round in progress has handed over what it claimed. */
  stop(): Promise<void> {
    return this.#round.stop();
  }

  async #claim(): Promise<void> {
    const o = this.#o;
    // Taking over a dead replica's claims scans every claimed job within the horizon: once a
    // second is plenty for something that happens only after a lease (15 s) has run out.
    const includeExpired = Date.now() - this.#expiredCheckedAt >= EXPIRED_CHECK_MS;
    if (includeExpired) this.#expiredCheckedAt = Date.now();
    for (;;) {
      const sentAt = Date.now();
      const result = await o.store.claimDue(o.owner, {
        horizonMs: o.horizonMs,
        leaseMs: o.leaseMs,
        limit: o.claimLimit,
        includeExpired,
      });
      o.clock.observe(result.dbNow, sentAt);
      o.metrics.claims.inc(result.jobs.length);
      o.onClaimed(result);
      this.#lastTickAt = result.dbNow;
      if (this.#round.stopped || result.jobs.length < o.claimLimit) return;
    }
  }
}
