import { setTimeout as sleep } from "node:timers/promises";
import { FencedError, HandlerError, isConnectionError } from "./errors.ts";
import { PARK_REASONS, type ParkReason, refusalOf } from "./event-decoding.ts";
import type { ProjectionMetrics } from "./metrics.ts";
import type { Ownership, OwnershipStore } from "./ownership-store.ts";
import type { ParkedStore } from "./parked-store.ts";
import type { ProjectionDefinition, ProjectionEvent, ProjectionTables, ProjectionTx } from "./projection.ts";
import type { RuntimeLogger as Logger } from "./runtime-logger.ts";

export interface UnitWorkerOptions {
  readonly own: Ownership;
  readonly definition: ProjectionDefinition;
  readonly tables: ProjectionTables;
  readonly ownership: OwnershipStore;
  readonly parked: ParkedStore;
  readonly metrics: ProjectionMetrics;
  readonly logger: Logger;
  readonly batchSize: number;
  readonly maxAttempts: number;
  /** How soon an idle unit stores the reader's position as its checkpoint (keeps lag honest). */
  readonly idleFlushMs: number;
  /** Called once when the unit turns out to be fenced (owned by someone else now). */
  readonly onFenced: (worker: UnitWorker) => void;
}

/** Where a unit's events come from: the stream position below which it has seen everything. */
export interface EventSource {
  readonly position: number;
}

/** Above this many queued events a unit makes its reader wait (bounded memory). */
export const UNIT_HIGH_WATER = 5_000;

/**
 * Most events in a unit's first transaction on this replica: a moved unit is paused until that
 * commit, and a full batch (500 events of a read-ahead) took ~100 ms of handler time on a busy
 * machine. The batches after it are full-sized.
 */
export const FIRST_BATCH = 50;

/** How a hold (`applyUpTo`) ended: at its checkpoint, out of time, or called off. */
export type HoldOutcome = "reached" | "expired" | "cancelled";

/**
 * Applies one unit's events in stream order, a batch per transaction whose first statement is
 * the fenced checkpoint write. A failing batch is replayed event by event to find the poison
 * one, which is parked after `maxAttempts` while the unit moves on.
 */
export class UnitWorker {
  readonly options: UnitWorkerOptions;
  source: EventSource | undefined;
  #queue: ProjectionEvent[] = [];
  #lastSeen: number;
  #checkpoint: number;
  /**
   * Starts at construction: a unit just acquired has nothing to flush (its checkpoint was just
   * read), and an empty checkpoint write at once took a connection and three round trips before
   * its first events — traced at 500-900 ms of a moved unit's pause on a loaded machine.
   */
  #lastCommitAt = Date.now();
  #commits = 0;
  #stopping = false;
  #wake: (() => void) | undefined;
  #drained: (() => void)[] = [];
  #loop: Promise<void> | undefined;
  #firstCommitted!: () => void;
  /** Settles at the unit's first commit on this replica (the end of a moved unit's pause) or its stop. */
  readonly firstCommit = new Promise<void>((resolve) => (this.#firstCommitted = resolve));
  /** `applyUpTo`: the unit applies nothing past `upTo`, and says when its checkpoint got there. */
  #hold: { readonly upTo: number; readonly settle: (outcome: HoldOutcome) => void } | undefined;

  constructor(options: UnitWorkerOptions) {
    this.options = options;
    this.#lastSeen = options.own.checkpoint;
    this.#checkpoint = options.own.checkpoint;
  }

  get checkpoint(): number {
    return this.#checkpoint;
  }
  get queued(): number {
    return this.#queue.length;
  }
  get stopped(): boolean {
    return this.#stopping;
  }

  /** Everything at or below this has been dispatched to the unit (or was not its). */
  position(): number {
    return Math.max(this.#lastSeen, this.source?.position ?? 0);
  }

  /** Age in seconds of the oldest event not applied yet. */
  lagSeconds(now: number): number {
    const head = this.#queue[0];
    return head ? Math.max(0, (now - Date.parse(head.time)) / 1000) : 0;
  }

  /** Moves the unit to another reader, keeping everything the old one had dispatched as seen. */
  moveTo(source: EventSource): void {
    this.#lastSeen = this.position();
    this.source = source;
  }

  /** Takes an event from the reader; ignores anything at or below what the unit already has. */
  offer(event: ProjectionEvent): void {
    if (this.#stopping || event.seq <= this.#lastSeen) return;
    this.#lastSeen = event.seq;
    if (this.#commits === 0 && this.#queue.length === 0)
      this.options.logger.debug?.({ unit: this.options.own.key, seq: event.seq }, "unit event queued");
    this.#queue.push(event);
    this.#wake?.();
  }

  /** Resolves once the queue is below the high-water mark (or the unit stops). */
  belowHighWater(): Promise<void> {
    if (this.#queue.length < UNIT_HIGH_WATER || this.#stopping) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Finishes the transaction in flight, then stops; queued events are left to the next owner. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#endHold("cancelled");
    this.#wake?.();
    this.#releaseWaiters();
    await this.#loop;
  }

  /**
   * Before a hand-over: the unit goes on applying, but nothing past `upTo` (the sequence just
   * below where the next owner's read-ahead starts), and resolves "reached" once its checkpoint
   * is there — then it stands still, so a release right after leaves it exactly where the next
   * owner has every event from. "expired" once no commit moved the checkpoint for `stallMs`, or
   * after `maxMs` in all, and "cancelled" (`cancelHold`, `stop`) end the hold: the unit applies
   * normally again unless it is stopped.
   */
  applyUpTo(upTo: number, stallMs: number, maxMs: number): Promise<HoldOutcome> {
    this.cancelHold();
    if (this.#stopping) return Promise.resolve("cancelled");
    return new Promise((resolve) => {
      let settled = false;
      const settle = (outcome: HoldOutcome) => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        resolve(outcome);
      };
      const started = Date.now();
      let seen = this.#checkpoint;
      const timer = setInterval(() => {
        if (this.#checkpoint === seen || Date.now() - started >= maxMs) this.#endHold("expired");
        seen = this.#checkpoint;
      }, stallMs);
      this.#hold = { upTo, settle };
      this.#wake?.();
    });
  }

  cancelHold(): void {
    this.#endHold("cancelled");
  }

  #endHold(outcome: HoldOutcome): void {
    const hold = this.#hold;
    if (!hold) return;
    this.#hold = undefined;
    hold.settle(outcome);
    this.#wake?.();
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      try {
        const hold = this.#hold;
        if (hold && this.#checkpoint >= hold.upTo) {
          hold.settle("reached");
          await new Promise<void>((resolve) => (this.#wake = resolve));
          this.#wake = undefined;
        } else if (this.#queue.length > 0 && !(hold && this.#queue[0]!.seq > hold.upTo)) {
          await this.#applyNextBatch(hold?.upTo);
        } else if (hold && this.position() >= hold.upTo) {
          // Every event of the unit up to `upTo` is applied: the checkpoint alone moves there.
          await this.#commit([], hold.upTo, async () => {});
        } else await this.#idle();
      } catch (err) {
        if (err instanceof FencedError) {
          this.options.logger.warn(
            { err, unit: this.options.own.key },
            "unit fenced: another replica owns it now",
          );
          this.#stopping = true;
          this.options.onFenced(this);
          break;
        }
        this.options.logger.error({ err, unit: this.options.own.key }, "unit transaction failed; retrying");
        await sleep(500);
      }
    }
    this.#endHold("cancelled");
    this.#firstCommitted();
    this.#releaseWaiters();
  }

  async #idle(): Promise<void> {
    const position = this.position();
    const due = Date.now() - this.#lastCommitAt >= this.options.idleFlushMs;
    if (position > this.#checkpoint && due) {
      await this.#commit([], position, async () => {});
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.options.idleFlushMs);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
  }

  /** One batch from the head of the queue; with `upTo` (a hold), none of its events past it. */
  async #applyNextBatch(upTo?: number): Promise<void> {
    const size = this.#commits === 0 ? Math.min(FIRST_BATCH, this.options.batchSize) : this.options.batchSize;
    let batch = this.#queue.slice(0, size);
    let to = batch.at(-1)!.seq;
    if (upTo !== undefined) {
      const past = batch.findIndex((e) => e.seq > upTo);
      if (past >= 0) batch = batch.slice(0, past);
      // The batch holds every queued event up to `upTo`: its checkpoint can say `upTo` already,
      // and the hold is reached with this commit instead of an empty one after it.
      const next = this.#queue[batch.length];
      if (next ? next.seq > upTo : this.position() >= upTo) to = upTo;
      else to = batch.at(-1)!.seq;
    }
    const valid = batch.every((e) => refusalOf(e) === undefined);
    try {
      if (!valid) throw new HandlerError("batch holds an unreadable message");
      await this.#commit(batch, to, (tx) => this.#handleAll(batch, tx));
      this.#consumed(batch.length);
    } catch (err) {
      if (!(err instanceof HandlerError) || isConnectionError(err.cause)) throw err;
      for (const event of batch) {
        if (this.#stopping) return;
        await this.#applyOne(event);
        this.#consumed(1);
      }
    }
  }

  async #applyOne(event: ProjectionEvent): Promise<void> {
    const refusal = refusalOf(event);
    for (let attempt = 1; !refusal; attempt++) {
      try {
        await this.#commit([event], event.seq, (tx) => this.#handleAll([event], tx, true));
        return;
      } catch (err) {
        if (!(err instanceof HandlerError) || isConnectionError(err.cause)) throw err;
        if (attempt >= this.options.maxAttempts) {
          const message = (err.cause as Error)?.message ?? err.message;
          await this.#park(event, { reason: PARK_REASONS.handlerFailed, message }, attempt);
          return;
        }
        await sleep(Math.min(50 * 2 ** attempt, 2_000));
      }
    }
    await this.#park(event, refusal, 0);
  }

  async #park(
    event: ProjectionEvent,
    why: { reason: ParkReason; message: string },
    attempts: number,
  ): Promise<void> {
    const { own, parked, logger, metrics, definition } = this.options;
    await this.#commit([], event.seq, (tx) => parked.park(tx, own.key, event, why.message, attempts));
    metrics.processed.inc({ projection: definition.name, outcome: "parked" });
    metrics.parked.inc({ projection: definition.name, reason: why.reason });
    logger.warn(
      {
        unit: own.key,
        seq: event.seq,
        eventId: event.id,
        type: event.type,
        source: event.source,
        reason: why.reason,
        error: why.message,
        attempts,
      },
      "event parked",
    );
  }

  async #handleAll(events: readonly ProjectionEvent[], tx: ProjectionTx, single = false): Promise<void> {
    const { definition, tables } = this.options;
    try {
      if (definition.handleBatch && !single) await definition.handleBatch(events, tx, tables);
      else for (const event of events) await definition.handle(event, tx, tables);
    } catch (err) {
      throw new HandlerError(`handler of ${definition.name} failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async #commit(
    events: readonly ProjectionEvent[],
    to: number,
    work: (tx: ProjectionTx) => Promise<void>,
  ): Promise<void> {
    const { own, ownership, metrics, definition } = this.options;
    const started = performance.now();
    const from = this.#checkpoint;
    if (this.#commits === 0)
      this.options.logger.debug?.(
        { unit: own.key, events: events.length, queued: this.#queue.length, from, to },
        "unit first transaction begun",
      );
    const first =
      this.#commits === 0 ? (msg: string) => this.options.logger.debug?.({ unit: own.key }, msg) : undefined;
    const step = { from, to, applied: events.length, lastEventTime: events.at(-1)?.time };
    await ownership.advanceInTransaction(own, step, async (tx) => {
      first?.("unit first checkpoint advanced");
      await work(tx);
      first?.("unit first batch handled");
    });
    this.#checkpoint = to;
    this.#lastCommitAt = Date.now();
    if (this.#commits++ === 0) {
      this.#firstCommitted();
      this.options.logger.debug?.(
        { unit: own.key, events: events.length, ms: Math.round(performance.now() - started) },
        "unit first commit",
      );
    }
    metrics.batchSeconds.observe({ projection: definition.name }, (performance.now() - started) / 1000);
    if (events.length > 0)
      metrics.processed.inc({ projection: definition.name, outcome: "applied" }, events.length);
  }

  #consumed(count: number): void {
    this.#queue.splice(0, count);
    if (this.#queue.length < UNIT_HIGH_WATER) this.#releaseWaiters();
  }

  #releaseWaiters(): void {
    const waiters = this.#drained;
    this.#drained = [];
    for (const resolve of waiters) resolve();
  }
}
