import type { Logger } from "@dbplane/service-kit";
import type { FiringLoop } from "../firing/firing-loop.ts";
import { RepeatingRound } from "../firing/repeating-round.ts";
import type { SchedulerStore } from "../store/scheduler-store.ts";

/**
 * Writes this replica's row of `GET /v1/replicas` every third of a lease: its last tick, clock
 * offset, held occurrences and publish backlog. A replica that dies stops beating and drops
 * out of the list a lease after its last beat (about when its claims are taken over); one that
 * stops cleanly removes its row.
 */
export class ReplicaHeartbeat {
  readonly #round: RepeatingRound;
  readonly #store: SchedulerStore;
  readonly #owner: string;

  constructor(o: {
    store: SchedulerStore;
    owner: string;
    leaseMs: number;
    firing: FiringLoop;
    logger: Logger;
  }) {
    this.#store = o.store;
    this.#owner = o.owner;
    this.#round = new RepeatingRound(
      "replica heartbeat",
      Math.max(100, Math.floor(o.leaseMs / 3)),
      async () => {
        const s = o.firing.stages();
        await o.store.beat(o.owner, o.leaseMs, {
          ...o.firing.tick(),
          held: s.held,
          publishBacklog: s.publishWaiting + s.publishInFlight,
        });
      },
      o.logger,
    );
  }

  start(): void {
    this.#round.start();
  }

  /** No further beat; the row goes. */
  async stop(): Promise<void> {
    await this.#round.stop();
    await this.#store.forgetReplica(this.#owner);
  }
}
