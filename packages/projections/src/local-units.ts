import type { GenerationRunner } from "./generation-runner.ts";
import type { LagSample } from "./metrics.ts";
import { type UnitKey, unitId } from "./rendezvous.ts";
import type { UnitWorker } from "./unit-worker.ts";

/** A unit this replica runs: its worker and the generation's readers it is attached to. */
export interface LocalUnit {
  readonly key: UnitKey;
  readonly worker: UnitWorker;
  readonly runner: GenerationRunner;
}

/** The units a replica runs, by unit id, with the lag figures built from them. */
export class LocalUnits {
  readonly #units = new Map<string, LocalUnit>();

  get(key: UnitKey): LocalUnit | undefined {
    return this.#units.get(unitId(key));
  }
  add(unit: LocalUnit): void {
    this.#units.set(unitId(unit.key), unit);
  }
  delete(key: UnitKey): void {
    this.#units.delete(unitId(key));
  }
  all(): LocalUnit[] {
    return [...this.#units.values()];
  }

  /** Per unit: queued events plus what its reader has not read yet; age of the oldest. */
  lag(now = Date.now()): LagSample[] {
    return this.all().map(({ key, worker }) => {
      const pending = (worker.source as { pending?: number } | undefined)?.pending ?? 0;
      return {
        projection: key.projection,
        generation: key.generation,
        partition: key.partition,
        lagEvents: worker.queued + Math.ceil(pending / worker.options.definition.partitions),
        lagSeconds: worker.lagSeconds(now),
      };
    });
  }

  /** `{ "<unit>": [lagEvents, lagSeconds] }`, stored with the heartbeat for `GET /v1/projections`. */
  status(): Record<string, [number, number]> {
    const out: Record<string, [number, number]> = {};
    for (const s of this.lag())
      out[`${s.projection}/${s.generation}/${s.partition}`] = [
        s.lagEvents,
        Math.round(s.lagSeconds * 1000) / 1000,
      ];
    return out;
  }
}
