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

/** Most stream sequences a unit's checkpoint may be ahead of a reader for the reader to serve it. */
export const PREFETCH_SPREAD = 2_000;

/**
 * Most stream sequences a joiner's read-ahead starts past the newest checkpoint of the units it
 * expects (never past the stream's end): room for the owners to move on while it settles and
 * joins, so that when they hand a unit over the read-ahead already holds its next events.
 */
export const READ_AHEAD = 5_000;
/** How far the owners may have overtaken a joiner's read-ahead before it is started again. */
export const REAIM_BEHIND = 500;

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
  /** The reader `prefetch` started. */
  #readAhead: StreamReader | undefined;

  constructor(options: GenerationRunnerOptions) {
    this.options = options;
  }

  /**
   * Before joining: starts the reader the units expected here will be handed to, keeping their
   * events meanwhile, from `READ_AHEAD` sequences past the newest of their checkpoints (or the
   * stream's end, if nearer). Their owners, told of that start (`readAheadStart`, in this
   * member's row), apply up to just below it before they release a unit (`UnitHost.handOver`):
   * acquired, the unit starts at once on events already read instead of paying, while paused,
   * for a consumer of its own and for reading what its owner got to meanwhile.
   *
   * Called again right before the join: a read-ahead the owners have overtaken by more than
   * `REAIM_BEHIND` (a joiner reads slower than busy owners apply while it starts up) is replaced
   * by one from their checkpoints now. Otherwise a no-op once anything reads this generation.
   * @returns where the read-ahead starts, or undefined if there is none.
   */
  async prefetch(units: readonly { partition: number; checkpoint: number }[]): Promise<number | undefined> {
    if (units.length === 0) return undefined;
    const newest = Math.max(...units.map((u) => u.checkpoint));
    const current = this.#readAhead;
    const overtaken =
      current !== undefined &&
      this.readers.length === 1 &&
      this.readers[0] === current &&
      current.units.size === 0 &&
      newest - current.position > REAIM_BEHIND;
    if (this.readers.length > 0 && !overtaken) return this.readAheadStart;
    const { js, stream } = this.options;
    const last = (await (await js.streams.get(stream)).info()).state.last_seq;
    if (current) {
      // Stopped first: while both read, the old one could be merged into the new one.
      this.readers.splice(this.readers.indexOf(current), 1);
      await current.stop();
    }
    const reader = this.#reader(newest + 1 + Math.max(0, Math.min(last - newest, READ_AHEAD)), "prefetch");
    reader.reserve(units.map((u) => u.partition));
    this.readers.push(reader);
    this.#readAhead = reader;
    try {
      await reader.start();
    } catch (err) {
      this.readers.splice(this.readers.indexOf(reader), 1);
      await reader.stop();
      throw err;
    }
    return reader.options.startSeq;
  }

  /**
   * Where the read-ahead for expected units starts while it still keeps events for one of them
   * (undefined once every expected unit was acquired or went elsewhere).
   */
  get readAheadStart(): number | undefined {
    const reader = this.#readAhead;
    return reader && this.readers.includes(reader) && reader.keeping ? reader.options.startSeq : undefined;
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
    // The reader nearest below these units' checkpoints, if one is near: it serves them as it is
    // (the main one, or one started for units acquired a moment earlier, when releases come one
    // after the other — a reader each read the same backlog twice or more at once, and their
    // first pulls held up each other's consumer creation: 700 ms, traced on a busy machine).
    const target = this.readers
      .filter((r) => r.position < from && from - r.position <= PREFETCH_SPREAD)
      .sort((a, b) => b.position - a.position)[0];
    if (target) {
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
