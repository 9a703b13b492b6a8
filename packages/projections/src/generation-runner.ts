import type { JetStreamClient } from "@nats-io/jetstream";
import type { ProjectionMetrics } from "./metrics.ts";
import type { ProjectionDefinition } from "./projection.ts";
import type { RuntimeLogger as Logger } from "./runtime-logger.ts";
import { StreamReader } from "./stream-reader.ts";
import type { UnitWorker } from "./unit-worker.ts";

export interface GenerationRunnerOptions {
  readonly js: JetStreamClient;
  readonly stream: string;
  readonly filter: string;
  readonly definition: ProjectionDefinition;
  readonly contractSubject: (wire: string) => string;
  readonly logger: Logger;
  readonly readerStarts: ProjectionMetrics["readerStarts"];
}

/** Most stream sequences a prefetching reader starts below the newest of its units' checkpoints. */
export const PREFETCH_SPREAD = 2_000;

/** Why a reader (one ordered consumer) was started: the `purpose` of `readerStarts`. */
type ReaderPurpose = "prefetch" | "acquired" | "restart";

/**
 * The readers of one generation on one replica. Units acquired later than the others usually
 * start further back; they get their own catch-up reader, which hands them to the main reader
 * as soon as it is level with it — so acquiring a unit never rewinds (pauses) the units already
 * running, and at steady state the stream is read once per generation.
 */
export class GenerationRunner {
  readonly options: GenerationRunnerOptions;
  readonly readers: StreamReader[] = [];

  constructor(options: GenerationRunnerOptions) {
    this.options = options;
  }

  /**
   * Before joining: starts the reader the units expected here will be handed to, from the lowest
   * of their checkpoints, keeping their events meanwhile. Acquired, they start on what was kept
   * instead of paying for a consumer of their own (JetStream round trips, the first pull) while
   * paused. A no-op once anything reads this generation.
   */
  async prefetch(units: readonly { partition: number; checkpoint: number }[]): Promise<void> {
    if (units.length === 0 || this.readers.length > 0) return;
    // A unit whose owner lags far behind would hold the others up: one reader from its checkpoint
    // reads its backlog before reaching theirs (traced: 27,000 sequences, four units' first
    // commits 4 s late). It is left out and gets a reader of its own when acquired.
    const newest = Math.max(...units.map((u) => u.checkpoint));
    const near = units.filter((u) => newest - u.checkpoint <= PREFETCH_SPREAD);
    const reader = this.#reader(Math.min(...near.map((u) => u.checkpoint)) + 1, "prefetch");
    reader.reserve(near.map((u) => u.partition));
    this.readers.push(reader);
    try {
      await reader.start();
    } catch (err) {
      this.readers.splice(this.readers.indexOf(reader), 1);
      await reader.stop();
      throw err;
    }
  }

  /** Starts reading for newly acquired units from the lowest of their checkpoints. */
  async add(acquired: readonly { worker: UnitWorker; partition: number }[]): Promise<void> {
    // A reader far behind a unit's checkpoint (the joiner's read-ahead, catching up a backlog
    // slower than the old owners did) would hold the unit until it got there — traced: 1.5 s of
    // first commit, 10 s on a busier machine. Such a unit gets a reader from its checkpoint.
    const near = (r: StreamReader, u: { worker: UnitWorker }) =>
      u.worker.checkpoint - r.position <= PREFETCH_SPREAD;
    const units = acquired.filter(
      (u) =>
        !this.readers.some((r) => (near(r, u) ? r.claim(u.worker, u.partition) : r.unreserve(u.partition))),
    );
    for (const u of acquired) {
      this.options.logger.debug?.(
        {
          unit: u.worker.options.own.key,
          claimed: !units.includes(u),
          queued: u.worker.queued,
          checkpoint: u.worker.checkpoint,
          // Where the first reader is, and how much of the stream it has still to read.
          readerAt: this.readers[0]?.position,
          readerPending: this.readers[0]?.pending,
        },
        "unit launched",
      );
    }
    for (const u of acquired) if (!units.includes(u)) u.worker.start();
    if (units.length === 0) return;
    const from = Math.min(...units.map((u) => u.worker.checkpoint)) + 1;
    const main = this.readers[0];
    const target = main && main.position < from && from - main.position <= PREFETCH_SPREAD ? main : undefined;
    if (target) {
      // The main reader has not reached these units' checkpoints yet: it serves them as it is.
      for (const u of units) target.adopt(u.worker, u.partition);
      for (const u of units) u.worker.start();
      return;
    }
    const reader = this.#reader(from, "acquired");
    for (const u of units) reader.adopt(u.worker, u.partition);
    this.readers.push(reader);
    for (const u of units) u.worker.start();
    await reader.start();
  }

  #reader(startSeq: number, purpose: ReaderPurpose): StreamReader {
    const { definition } = this.options;
    this.options.readerStarts.inc({ projection: definition.name, purpose });
    return new StreamReader({
      ...this.options,
      types: definition.events.types ? new Set(definition.events.types) : undefined,
      partitions: definition.partitions,
      startSeq,
      onAdvance: (r) => this.#mergeIfLevel(r),
      onFailed: (r) => void this.#replace(r),
    });
  }

  /** A failed reader (NATS trouble, a deleted consumer) is replaced from where it stopped. */
  async #replace(failed: StreamReader): Promise<void> {
    const index = this.readers.indexOf(failed);
    if (index < 0) return;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    if (this.readers[index] !== failed) return;
    const reader = this.#reader(failed.position + 1, "restart");
    for (const [partition, unit] of failed.units) reader.adopt(unit, partition);
    this.readers[index] = reader;
    try {
      await reader.start();
    } catch (err) {
      this.options.logger.error({ err }, "restarting the stream reader failed; retrying");
      this.readers[index] = failed;
      void this.#replace(failed);
    }
  }

  /**
   * Forgets a unit's worker (stopped by the caller); stops a reader left with no units. Only that
   * worker: the partition may already have a newer one here (released, then acquired again).
   */
  async remove(partition: number, worker: UnitWorker): Promise<void> {
    for (const reader of [...this.readers]) {
      if (reader.units.get(partition) !== worker) continue;
      reader.units.delete(partition);
      if (!reader.idle) continue;
      this.readers.splice(this.readers.indexOf(reader), 1);
      await reader.stop();
    }
  }

  get empty(): boolean {
    return this.readers.length === 0;
  }

  async stop(): Promise<void> {
    await Promise.all(this.readers.splice(0).map((r) => r.stop()));
  }

  #mergeIfLevel(reader: StreamReader): void {
    if (reader.idle) {
      // A prefetching reader whose units went elsewhere (or grew past what is kept for them).
      this.readers.splice(this.readers.indexOf(reader), 1);
      void reader.stop();
      return;
    }
    const main = this.readers[0];
    if (!main || main === reader || reader.position < main.position) return;
    // Far ahead of a lagging main: merging would stall these units until main got here. Merged
    // once main has come within the spread (it reads as fast as it can; this one follows the head).
    if (reader.position - main.position > PREFETCH_SPREAD) return;
    // Level or ahead: main's next message is past reader.position ≥ what these units have seen;
    // units skip anything at or below their own position, so nothing is missed or repeated.
    for (const [partition, unit] of reader.units) main.adopt(unit, partition);
    reader.units.clear();
    this.readers.splice(this.readers.indexOf(reader), 1);
    void reader.stop();
  }
}
