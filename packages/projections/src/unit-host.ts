import { busNames, commonFilterSubject } from "@dbplane/bus";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { GenerationRunner } from "./generation-runner.ts";
import { LocalUnits } from "./local-units.ts";
import type { UnitRow } from "./membership-store.ts";
import type { ProjectionMetrics } from "./metrics.ts";
import type { Ownership, OwnershipStore } from "./ownership-store.ts";
import type { ParkedStore } from "./parked-store.ts";
import { type ProjectionDefinition, projectionTables } from "./projection.ts";
import { type UnitKey, unitId } from "./rendezvous.ts";
import type { RuntimeLogger } from "./runtime-logger.ts";
import type { UnitChange } from "./runtime-options.ts";
import { UnitWorker } from "./unit-worker.ts";

/** A unit further than this below the next owner's read-ahead start is released at once. */
export const HAND_OVER_MAX_BEHIND = 50_000;

export interface UnitHostOptions {
  readonly memberId: string;
  readonly readSchema: string;
  readonly namespace: string | undefined;
  readonly nc: NatsConnection;
  readonly definitions: ReadonlyMap<string, ProjectionDefinition>;
  readonly ownership: OwnershipStore;
  readonly parked: ParkedStore;
  readonly metrics: ProjectionMetrics;
  readonly logger: RuntimeLogger;
  readonly settings: {
    readonly batchSize: number;
    readonly maxAttempts: number;
    readonly idleFlushMs: number;
    readonly handOverStallMs: number;
    readonly handOverMaxMs: number;
  };
  readonly onUnitChange: ((change: UnitChange) => void | Promise<void>) | undefined;
}

/**
 * The units one replica runs: starts workers for acquired units (grouped so each generation's
 * stream is read once), stops, releases and announces them. The coordinator decides; this acts.
 */
export class UnitHost {
  readonly units = new LocalUnits();
  readonly #o: UnitHostOptions;
  readonly #runners = new Map<string, GenerationRunner>();
  readonly #announcing = new Set<Promise<void>>();
  /** Units applying up to their hand-over point (`handOver`), by unit id. */
  readonly #handing = new Map<string, { key: UnitKey; done: Promise<void> }>();

  constructor(options: UnitHostOptions) {
    this.#o = options;
  }

  /** Starts the units just acquired; their generation's readers start from their checkpoints. */
  async launch(acquired: readonly { row: UnitRow; own: Ownership }[]): Promise<void> {
    const byGeneration = new Map<GenerationRunner, { worker: UnitWorker; partition: number }[]>();
    for (const { row, own } of acquired) {
      const definition = this.#o.definitions.get(row.projection)!;
      const runner = this.#runner(definition, row.generation);
      const worker = this.#worker(definition, own);
      this.units.add({ key: own.key, worker, runner });
      byGeneration.set(runner, [...(byGeneration.get(runner) ?? []), { worker, partition: row.partition }]);
      this.#o.metrics.unitMoves.inc({ projection: row.projection, direction: "acquired" });
      this.#announce("assigned", own, row.version, own.checkpoint);
    }
    for (const [runner, group] of byGeneration) await runner.add(group);
  }

  /** Starts reading, before joining, for the units this replica expects (`GenerationRunner.prefetch`). */
  async prefetch(
    definition: ProjectionDefinition,
    generation: number,
    units: readonly { partition: number; checkpoint: number }[],
    readAhead?: number,
  ): Promise<void> {
    await this.#runner(definition, generation).prefetch(units, readAhead);
  }

  /**
   * Waits, at most `timeoutMs`, until no read-ahead reads a backlog (each parked `KEEP_AHEAD` past
   * its start, or following the head); the time waited.
   */
  async readAheadsAtRest(timeoutMs: number): Promise<number> {
    const started = performance.now();
    while (performance.now() - started < timeoutMs) {
      if ([...this.#runners.values()].every((r) => r.readAheadsAtRest)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return performance.now() - started;
  }

  /**
   * Where this replica's read-ahead starts for each unit it expects (by unit id, for its member
   * row): the owners hand those units over there.
   */
  readAhead(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, runner] of this.#runners)
      for (const [partition, start] of runner.readAheadStarts()) out[`${id}/${partition}`] = start;
    return out;
  }

  /**
   * Gives a unit up to a member whose read-ahead starts at `upTo + 1`: the unit goes on applying
   * up to `upTo` (it is not paused meanwhile), then stands still and is released there, so the
   * next owner starts it on events it already read. Released at once when the next owner reads
   * no read-ahead for it (`upTo` undefined), when it is there already or too far behind
   * (`HAND_OVER_MAX_BEHIND`); released where it got to when the hold expires: the unit
   * committed nothing for `handOverStallMs`, or held `handOverMaxMs` in all. The unit is not
   * paused while it holds; an expired hold sends the next owner to read from the unit's
   * checkpoint with a reader of its own (the slow way: 0.4–0.8 s of pause, measured), so a unit
   * still catching up is let hold on. Returns without waiting for the hold.
   */
  async handOver(key: UnitKey, upTo: number | undefined): Promise<void> {
    const unit = this.units.get(key);
    const id = unitId(key);
    if (!unit) return;
    const handing = this.#handing.has(id);
    // A hold whose read-ahead is gone (the next owner stopped keeping the unit's events) ends now.
    if (upTo === undefined && handing) return this.release(key);
    if (handing) return;
    const behind = upTo === undefined ? undefined : upTo - unit.worker.checkpoint;
    // Why the next owner will not start it on events it read ahead (overtaken: maybe not).
    const outcome =
      behind === undefined
        ? "unforeseen"
        : behind <= 0
          ? "overtaken"
          : behind > HAND_OVER_MAX_BEHIND
            ? "far"
            : "";
    if (upTo === undefined || outcome !== "") {
      this.#o.metrics.handOverHolds.observe({ projection: key.projection, outcome }, 0);
      this.#o.logger.debug?.({ unit: key, upTo, behind, outcome }, "unit released without a hold");
      return this.release(key);
    }
    const started = performance.now();
    this.#o.logger.debug?.({ unit: key, upTo, behind }, "unit applying up to its hand-over point");
    const done = unit.worker
      .applyUpTo(upTo, this.#o.settings.handOverStallMs, this.#o.settings.handOverMaxMs)
      .then(async (outcome) => {
        this.#o.metrics.handOverHolds.observe(
          { projection: key.projection, outcome },
          (performance.now() - started) / 1000,
        );
        // Cancelled: the unit stays here (it should not move any more) or is being stopped.
        if (outcome !== "cancelled") await this.release(key);
      })
      .catch((err) => this.#o.logger.warn({ err, unit: key }, "handing a unit over failed"))
      .finally(() => this.#handing.delete(id));
    this.#handing.set(id, { key, done });
  }

  /** Units applying up to their hand-over point. */
  handingOver(): UnitKey[] {
    return [...this.#handing.values()].map((h) => h.key);
  }

  /** Calls a hand-over off (the unit should stay here after all): it applies on as before. */
  cancelHandOver(key: UnitKey): void {
    this.units.get(key)?.worker.cancelHold();
  }

  /** Stops a unit's worker after its transaction in flight; the ownership row is left as is. */
  async stop(key: UnitKey): Promise<void> {
    const unit = this.units.get(key);
    if (!unit) return;
    this.units.delete(key);
    await unit.worker.stop();
    this.#o.logger.debug?.({ unit: key }, "unit worker stopped");
    await this.#detach(unit, key);
  }

  /** Takes a stopped unit off its reader; a generation left with no reader is forgotten. */
  async #detach(unit: { runner: GenerationRunner; worker: UnitWorker }, key: UnitKey): Promise<void> {
    await unit.runner.remove(key.partition, unit.worker);
    if (unit.runner.empty) this.#runners.delete(`${key.projection}/${key.generation}`);
  }

  /**
   * Drains a unit, then gives it up (its last checkpoint is stored by then). The release is
   * written as soon as the worker stopped; detaching it from its reader (which may stop a
   * consumer, a NATS round trip) comes after, outside the moved unit's pause.
   */
  async release(key: UnitKey): Promise<void> {
    const unit = this.units.get(key);
    if (!unit) return;
    this.#o.logger.debug?.({ unit: key }, "unit release started");
    this.units.delete(key);
    await unit.worker.stop();
    this.#o.logger.debug?.({ unit: key }, "unit drained");
    const { own, definition } = unit.worker.options;
    if (await this.#o.ownership.release(own)) {
      this.#o.metrics.unitMoves.inc({ projection: key.projection, direction: "released" });
      this.#announce("released", own, definition.version, unit.worker.checkpoint);
      this.#o.logger.debug?.({ unit: key }, "unit released");
    }
    await this.#detach(unit, key);
  }

  /**
   * Stops units whose row names another owner or token (fenced while paused) or left the view
   * (retired). A row with an older token than the unit's was read before this replica acquired
   * it (from a release's notification, while the round was reading its view): no evidence of loss.
   */
  async dropLost(rows: readonly UnitRow[]): Promise<void> {
    const byId = new Map(rows.map((r) => [unitId(r), r]));
    for (const unit of this.units.all()) {
      const row = byId.get(unitId(unit.key));
      const { token } = unit.worker.options.own;
      if (row && (row.token < token || (row.token === token && row.owner === this.#o.memberId))) continue;
      this.#o.metrics.unitMoves.inc({ projection: unit.key.projection, direction: "lost" });
      await this.stop(unit.key);
    }
  }

  /** Graceful stop: readers first, then every unit drains and is released; announcements flushed. */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.#runners.values()].map((r) => r.stop()));
    await Promise.all(this.units.all().map((u) => this.release(u.key)));
    await Promise.all([...this.#handing.values()].map((h) => h.done));
    this.#runners.clear();
    await Promise.all(this.#announcing);
  }

  #worker(definition: ProjectionDefinition, own: Ownership): UnitWorker {
    const { key } = own;
    return new UnitWorker({
      ...this.#o.settings,
      own,
      definition,
      tables: projectionTables(this.#o.readSchema, key.projection, key.generation),
      ownership: this.#o.ownership,
      parked: this.#o.parked,
      metrics: this.#o.metrics,
      logger: this.#o.logger,
      onFenced: () => void this.stop(key),
    });
  }

  #runner(definition: ProjectionDefinition, generation: number): GenerationRunner {
    const id = `${definition.name}/${generation}`;
    let runner = this.#runners.get(id);
    if (!runner) {
      const names = busNames(this.#o.namespace);
      runner = new GenerationRunner({
        js: jetstream(this.#o.nc),
        stream: names.stream("evt"),
        filter: commonFilterSubject(definition.events.subjects.map((s) => names.subject(s))),
        definition,
        contractSubject: names.contractSubject,
        logger: this.#o.logger,
        readerStarts: this.#o.metrics.readerStarts,
      });
      this.#runners.set(id, runner);
    }
    return runner;
  }

  #announce(kind: UnitChange["kind"], own: Ownership, version: number, checkpoint: number): void {
    const notify = this.#o.onUnitChange;
    if (!notify) return;
    const change: UnitChange = {
      kind,
      key: own.key,
      version,
      worker: own.owner,
      token: own.token,
      checkpoint,
      at: new Date(),
    };
    const sent = Promise.resolve()
      .then(() => notify(change))
      .catch((err) => this.#o.logger.warn({ err, unit: own.key }, "unit change announcement failed"))
      .finally(() => this.#announcing.delete(sent));
    this.#announcing.add(sent);
  }
}
