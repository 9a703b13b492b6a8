import type { Bus } from "@dbplane/bus";
import { shardLoadSampled, targetHealthChanged } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { Health } from "../domain/health.ts";
import type { TargetSpec } from "../domain/target-spec.ts";
import type { HealthRecord, SampleRecord } from "./sample-store.ts";

/** The collector's two events. Publishing never blocks collection; a failure is logged with its reason. */
export class CollectionEvents {
  readonly #bus: Bus;
  readonly #logger: Logger;

  constructor(bus: Bus, logger: Logger) {
    this.#bus = bus;
    this.#logger = logger;
  }

  /**
   * `target.health-changed`; the id names the transition, so a repeat within the dedup window is
   * absorbed. False when it could not be published: the caller undoes the recorded change so the
   * next collection sees it, and publishes, again.
   */
  async healthChanged(
    spec: TargetSpec,
    health: Health,
    previous: HealthRecord | undefined,
    at: Date,
  ): Promise<boolean> {
    const changedAt = at.toISOString();
    try {
      await this.#bus.publish(
        targetHealthChanged,
        {
          target: spec.id,
          engine: spec.engine,
          state: health.state,
          ...(previous && { previousState: previous.state }),
          reason: health.reason,
          changedAt,
        },
        { subject: `target/${spec.id}`, id: `${spec.id}:health:${health.state}:${changedAt}` },
      );
      return true;
    } catch (err) {
      this.#logger.error({ err, target: spec.id, state: health.state }, "health-changed event not published");
      return false;
    }
  }

  /**
   * `shard.load-sampled` for a dbplane shard, from its primary's sample plus its replicas' latest
   * samples (their rates and connections add up: the router wants the shard's whole load).
   */
  async shardLoad(
    spec: TargetSpec,
    primary: SampleRecord,
    replicas: readonly SampleRecord[],
    windowSeconds: number,
  ): Promise<void> {
    if (!spec.shard) return;
    const all = [primary, ...replicas];
    const sum = (pick: (s: SampleRecord) => number | undefined) =>
      all.reduce((n, s) => n + (pick(s) ?? 0), 0);
    const { database, shard } = spec.shard;
    try {
      await this.#bus.publish(
        shardLoadSampled,
        {
          database,
          shard,
          windowSeconds: Math.max(1, Math.round(windowSeconds)),
          transactionsPerSecond: sum((s) => s.transactionsPerSecond),
          tuplesPerSecond: sum((s) => s.tuplesPerSecond),
          connections: Math.round(sum((s) => s.connections)),
          ...(primary.sizeBytes !== undefined && { sizeBytes: primary.sizeBytes }),
          ...(primary.cacheHitRatio !== undefined && { cacheHitRatio: primary.cacheHitRatio }),
          ...(primary.longestQuerySeconds !== undefined && {
            longestQuerySeconds: primary.longestQuerySeconds,
          }),
          ...(primary.locksWaiting !== undefined && { locksWaiting: Math.round(primary.locksWaiting) }),
          sampledAt: primary.at,
        },
        { subject: `database/${database}/shard/${shard}`, id: `${database}:${shard}:load:${primary.at}` },
      );
    } catch (err) {
      this.#logger.error({ err, database, shard }, "shard load event not published");
    }
  }
}
