import type { Bus } from "@dbplane/bus";
import { jobDelivered, jobDeliveryFailed } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import { DeliveryFailure } from "../domain/delivery-policy.ts";
import { RepeatingRound } from "../firing/repeating-round.ts";
import type { EndedDelivery } from "../store/delivery-outbox.ts";
import type { SchedulerStore } from "../store/scheduler-store.ts";

/** Orphaned ends published per sweep query (the sweep repeats while it comes back full). */
const SWEEP_BATCH = 200;
const MAX_ERROR_LENGTH = 2_000;

export interface DeliveryEventsOptions {
  readonly bus: Bus;
  readonly store: SchedulerStore;
  /**
   * How long the replica that ended a delivery has to publish its event before any replica
   * does, and how often each replica looks. Must stay below the bus duplicate window so that
   * both publishing makes one event.
   */
  readonly graceMs: number;
  readonly logger: Logger;
}

/**
 * Publishes `job.delivered` and `job.delivery-failed`, once per delivery, outbox-style: the end
 * is recorded first (the delivery's row, `announced_at` NULL), then the replica that ended it
 * publishes and marks it announced. If it dies (or NATS is away) between the two, a sweep on
 * every replica publishes ends still unannounced after `graceMs`. Both use the id
 * `delivered:<jobId>:<scheduledAt>` (or `delivery-failed:…`), so a repeat within JetStream's
 * duplicate window is dropped; the pruner keeps a run until its delivery's end is announced.
 */
export class DeliveryEvents {
  readonly #o: DeliveryEventsOptions;
  readonly #log: Logger;
  readonly #round: RepeatingRound;

  constructor(options: DeliveryEventsOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: "delivery-events" });
    this.#round = new RepeatingRound(
      "announce ended deliveries",
      options.graceMs,
      () => this.#sweep(),
      this.#log,
    );
  }

  start(): void {
    this.#round.start();
  }

  stop(): Promise<void> {
    return this.#round.stop();
  }

  /** Publishes the end of a delivery this replica just recorded; on failure the sweep does later. */
  async ended(jobId: string, scheduledAt: Date): Promise<void> {
    try {
      const ended = await this.#o.store.endedDelivery(jobId, scheduledAt);
      if (ended) await this.#announce(ended);
    } catch (err) {
      this.#log.warn(
        { err, jobId, scheduledAt: scheduledAt.toISOString() },
        "delivery event not published; the sweep publishes it later",
      );
    }
  }

  async #sweep(): Promise<void> {
    for (;;) {
      if (this.#round.stopped) return;
      const orphans = await this.#o.store.orphanedEndedDeliveries(this.#o.graceMs, SWEEP_BATCH);
      for (const ended of orphans) {
        this.#log.info(
          { jobId: ended.jobId, scheduledAt: ended.scheduledAt.toISOString() },
          "publishing the end of a delivery its replica did not announce",
        );
        await this.#announce(ended);
      }
      if (orphans.length < SWEEP_BATCH) return;
    }
  }

  async #announce(d: EndedDelivery): Promise<void> {
    const scheduledAt = d.scheduledAt.toISOString();
    const at = d.finishedAt.toISOString();
    if (d.state === "succeeded") {
      await this.#o.bus.publish(
        jobDelivered,
        {
          jobId: d.jobId,
          scheduledAt,
          attempts: d.attempts,
          status: d.lastStatus ?? 200,
          durationMs: Math.max(0, d.durationMs ?? 0),
          deliveredAt: at,
        },
        { subject: d.jobId, id: `delivered:${d.jobId}:${scheduledAt}` },
      );
    } else {
      await this.#o.bus.publish(
        jobDeliveryFailed,
        {
          jobId: d.jobId,
          scheduledAt,
          reason: d.reason ?? DeliveryFailure.maxAttempts,
          attempts: d.attempts,
          lastStatus: d.lastStatus ?? undefined,
          lastError: d.lastError ? d.lastError.slice(0, MAX_ERROR_LENGTH) : undefined,
          failedAt: at,
        },
        { subject: d.jobId, id: `delivery-failed:${d.jobId}:${scheduledAt}` },
      );
    }
    await this.#o.store.markAnnounced(d.jobId, d.scheduledAt);
  }
}
