import type { Logger } from "@dbplane/service-kit";
import type { Assignment } from "../coordination/assignment-summary.ts";
import { hash32 } from "../domain/rendezvous.ts";
import type { TargetRegistry } from "../targets/target-registry.ts";
import { type CollectDeps, collectTarget, type TargetState } from "./collect-target.ts";

export interface CollectionLoopOptions {
  readonly deps: CollectDeps;
  readonly registry: TargetRegistry;
  readonly intervalMs: number;
  /** Collections running at once on this member. */
  readonly concurrency: number;
  readonly logger: Logger;
}

interface Scheduled extends TargetState {
  dueAt: number;
  running: boolean;
}

/**
 * Collects this member's share, each target once per interval, spread over the interval by a
 * per-target phase so collections do not come in bursts. Targets not known to be up (new, down)
 * may hold at most half of the slots, so a fleet of unreachable targets waiting out their
 * timeouts cannot starve the healthy ones. Every collection carries the epoch of the share it
 * was started under.
 */
export class CollectionLoop {
  readonly #o: CollectionLoopOptions;
  readonly #owned = new Map<string, Scheduled>();
  readonly #inFlight = new Set<Promise<void>>();
  #epoch = 0;
  #running = 0;
  #suspectRunning = 0;
  #timer: NodeJS.Timeout | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #sync: Promise<void> = Promise.resolve();

  constructor(options: CollectionLoopOptions) {
    this.#o = options;
  }

  get owned(): number {
    return this.#owned.size;
  }

  /** Adopts a new share (or none): released targets stop at once, new ones are loaded and scheduled. */
  setAssignment(assignment: Assignment | undefined): void {
    this.#sync = this.#sync
      .then(() => this.#adopt(assignment))
      .catch((err) => {
        this.#o.logger.error({ err }, "adopting the assignment failed");
      });
  }

  start(): void {
    const tickMs = Math.max(20, Math.min(250, this.#o.intervalMs / 8));
    this.#timer = setInterval(() => this.#launchDue(), tickMs);
    this.#refreshTimer = setInterval(() => {
      this.#sync = this.#sync
        .then(() => this.#refreshSpecs())
        .catch((err) => this.#o.logger.warn({ err }, "refreshing target specs failed"));
    }, this.#o.intervalMs);
  }

  /** Stops starting collections and waits for the running ones. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#refreshTimer);
    this.#owned.clear();
    await this.#sync;
    await Promise.allSettled([...this.#inFlight]);
    await this.#o.deps.connections.closeAll();
  }

  async #adopt(assignment: Assignment | undefined): Promise<void> {
    const wanted = assignment?.targets ?? new Set<string>();
    // Synchronously, before any await: from here on no released target starts a collection,
    // and every collection started is tagged with the epoch of a share that contains its target.
    const released = [...this.#owned.keys()].filter((id) => !wanted.has(id));
    for (const id of released) {
      this.#owned.delete(id);
      this.#o.deps.targetMetrics.forget(id);
    }
    this.#epoch = assignment?.epoch ?? 0;
    for (const id of released) this.#o.deps.connections.drop(id);
    const added = [...wanted].filter((id) => !this.#owned.has(id));
    const specs = await this.#o.registry.get(added);
    const now = Date.now();
    added.forEach((id, i) => {
      const spec = specs[i];
      if (!spec) return;
      // A stable phase per target spreads the share over the interval.
      const dueAt = now + (hash32(id) % this.#o.intervalMs);
      this.#owned.set(id, { spec, dueAt, running: false });
    });
  }

  async #refreshSpecs(): Promise<void> {
    const ids = [...this.#owned.keys()];
    const specs = await this.#o.registry.get(ids);
    ids.forEach((id, i) => {
      const state = this.#owned.get(id);
      const spec = specs[i];
      if (state && spec) state.spec = spec;
    });
  }

  #launchDue(): void {
    const now = Date.now();
    const suspectSlots = Math.max(1, Math.floor(this.#o.concurrency / 2));
    // Most overdue first: when the share takes longer than the interval, every target still
    // gets its turn instead of the ones that happen to come first.
    const due = [...this.#owned.values()].filter((s) => s.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt);
    for (const state of due) {
      if (state.running) {
        this.#o.deps.metrics.skipped.inc({ reason: "still-running" });
        state.dueAt += this.#o.intervalMs;
        continue;
      }
      if (this.#running >= this.#o.concurrency) return;
      const suspect = state.lastState !== "up" && state.lastState !== "degraded";
      if (suspect && this.#suspectRunning >= suspectSlots) continue;
      this.#launch(state, suspect);
      // Falling behind skips missed rounds instead of bunching them up.
      state.dueAt = Math.max(state.dueAt + this.#o.intervalMs, now + this.#o.intervalMs / 2);
    }
  }

  #launch(state: Scheduled, suspect: boolean): void {
    state.running = true;
    this.#running++;
    if (suspect) this.#suspectRunning++;
    const run = collectTarget(this.#o.deps, state, this.#epoch)
      .catch((err) => this.#o.logger.warn({ err, target: state.spec.id }, "recording a collection failed"))
      .finally(() => {
        state.running = false;
        this.#running--;
        if (suspect) this.#suspectRunning--;
        this.#inFlight.delete(run);
      });
    this.#inFlight.add(run);
  }
}
