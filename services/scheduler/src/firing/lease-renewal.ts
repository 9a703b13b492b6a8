import type { Logger } from "@dbplane/service-kit";
import type { SchedulerStore } from "../store/scheduler-store.ts";
import type { DbClock } from "./db-clock.ts";
import type { PendingOccurrences } from "./pending-occurrences.ts";
import { RepeatingRound } from "./repeating-round.ts";

export interface LeaseRenewalOptions {
  readonly store: SchedulerStore;
  readonly owner: string;
  readonly leaseMs: number;
  readonly logger: Logger;
  readonly clock: DbClock;
  /** The held occurrences, by job: their lease expiries, and their timers to drop with a lost claim. */
  readonly pending: PendingOccurrences;
}

/** Most claims one renewal statement extends. */
export const RENEW_SLICE = 1_000;

/**
 * Extends, every third of a lease, the claims this replica still holds; a claim the database no
 * longer grants (the job changed, or another replica took it over) has its timers dropped.
 */
export class LeaseRenewal {
  readonly #o: LeaseRenewalOptions;
  readonly #round: RepeatingRound;
  readonly #everyMs: number;

  constructor(options: LeaseRenewalOptions) {
    this.#o = options;
    this.#everyMs = Math.max(100, Math.floor(options.leaseMs / 3));
    this.#round = new RepeatingRound("renew", this.#everyMs, () => this.#renew(), options.logger);
  }

  start(): void {
    this.#round.start();
  }

  /** No further renewal; resolves when the one in progress has ended. */
  stop(): Promise<void> {
    return this.#round.stop();
  }

  async #renew(): Promise<void> {
    const { store, owner, leaseMs, clock, pending, logger } = this.#o;
    // Only claims that would run out before the next round could renew them with time to
    // spare (two periods: this round's own time, the next one's): most occurrences are claimed
    // within the horizon (2 s) of their due time and settled moments later, long before a 15 s
    // lease needs extending. Renewing every held job each round rewrote ~10,000 rows at 5,000
    // firings/s, holding their row locks for ~300 ms and stalling the completions waiting on
    // them. Renewing only those past half their lease left a burst's claims 2.5 s (a third of a
    // lease less the round's own time) when renewed: a loaded replica's renewal took longer,
    // its waiting publishes passed the lease's end and 746 occurrences were dropped to be
    // re-fired 15 s late by the other replica (bench scheduler, loaded).
    const renewBefore = clock.now() + Math.min(leaseMs, 2 * this.#everyMs + leaseMs / 10);
    const ids = pending.jobIds().filter((id) => pending.expiryOf(id) < renewBefore);
    if (ids.length === 0) return;
    // In slices, soonest expiry first, each its own short statement: one UPDATE of a burst's
    // 25,000 claims took 1–19 s at load (non-HOT updates of an indexed table), holding every row
    // lock to its end, and the completions of the occurrences firing meanwhile queued behind it
    // (up to 4.7 s; bench scheduler). A slice's locks are held only while it runs.
    ids.sort((a, b) => pending.expiryOf(a) - pending.expiryOf(b));
    for (let at = 0; at < ids.length; at += RENEW_SLICE) {
      const slice = ids.slice(at, at + RENEW_SLICE);
      // The database renewed at its now, which is no earlier than our estimate when the request
      // left: counting the new lease from that estimate errs on the safe (shorter) side.
      const expiry = clock.now() + leaseMs;
      const held = new Set(await store.renewClaims(owner, leaseMs, slice));
      for (const id of slice) {
        if (held.has(id)) pending.holdUntil(id, expiry);
        else if (pending.drop(id) > 0)
          logger.info({ jobId: id }, "claim lost (job changed or taken over); timers dropped");
      }
    }
  }
}
