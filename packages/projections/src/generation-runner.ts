import type { JetStreamClient } from "@nats-io/jetstream";
import type { ProjectionMetrics } from "./metrics.ts";
import type { ProjectionDefinition } from "./projection.ts";
import { unitId } from "./rendezvous.ts";
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
  /** Sequences past the newest expected checkpoint a read-ahead starts; `READ_AHEAD` by default. */
  readonly readAhead?: number;
  /** Sequences past its start a read-ahead reads before it waits for a unit; `KEEP_AHEAD` by default. */
  readonly keepAhead?: number;
}

/** Most stream sequences a unit's checkpoint may be ahead of a reader for the reader to serve it. */
export const PREFETCH_SPREAD = 2_000;

/**
 * Most stream sequences a joiner's read-ahead starts past the newest checkpoint of the units it
 * expects (never past the stream's end): room for the owners to move on while it settles and
 * joins, so that when they hand a unit over the read-ahead already holds its next events. More
 * than a batch spans: catching up, a unit's checkpoint moves by a batch at a time (500 events of
 * one of 12 partitions ≈ 6,000 sequences in the bench), and a batch in flight when the owner
 * learns of the join still commits whole (5,000 was overtaken that way).
 */
export const READ_AHEAD = 20_000;
/**
 * A read-ahead stops reading this many sequences past its start until a unit arrives: enough for
 * an owner that overtook the start, and for the first batches of the units while it reads on.
 */
export const KEEP_AHEAD = 10_000;
/**
 * Most a re-aimed read-ahead starts past the newest checkpoint (`prefetch`'s `readAhead`), below
 * `HAND_OVER_MAX_BEHIND`: an owner further behind than that releases at once instead of holding.
 */
export const READ_AHEAD_MAX = 40_000;
/** Expected units whose checkpoints lie this close to each other share a read-ahead. */
export const READ_AHEAD_GROUP = 5_000;
/** Most read-ahead readers a joiner starts for one generation (groups of expected units). */
export const MAX_READ_AHEADS = 3;
/** Sequences from the head within which a read-ahead counts as following it (`readAheadsAtRest`). */
const AT_REST = 500;
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
  /** The readers `prefetch` started, one per group of expected units, nearest the head first. */
  #readAheads: StreamReader[] = [];
  /** Where the stream ended when each read-ahead started. */
  readonly #streamEnds = new WeakMap<StreamReader, number>();

  constructor(options: GenerationRunnerOptions) {
    this.options = options;
  }

  /**
   * Before joining: starts the readers the units expected here will be handed to, keeping their
   * events meanwhile. Units whose checkpoints lie within `READ_AHEAD_GROUP` of each other share one,
   * from `READ_AHEAD` sequences past the newest of their checkpoints (or the stream's end, if
   * nearer); a group far behind the others (an owner catching up) gets its own rather than make
   * the others wait, at most `MAX_READ_AHEADS` groups (the rest start as they always did, on a
   * reader of their own when acquired). Their owners, told of each unit's start
   * (`readAheadStarts`, in this member's row), apply up to just below it before they release it
   * (`UnitHost.handOver`): acquired, the unit starts at once on events already read instead of
   * paying, while paused, for a consumer of its own and for reading what its owner got to.
   *
   * Called again right before the join: read-aheads the owners have overtaken by more than
   * `REAIM_BEHIND` (a joiner reads slower than busy owners apply while it starts up) are replaced
   * by ones `readAhead` past their checkpoints now (the caller aims further than `READ_AHEAD` when
   * the owners just moved further than that). Otherwise a no-op once anything reads this generation.
   */
  async prefetch(
    units: readonly { partition: number; checkpoint: number }[],
    readAhead = this.options.readAhead ?? READ_AHEAD,
  ): Promise<void> {
    if (units.length === 0) return;
    const groups = groupByCheckpoint(units);
    const overtaken =
      this.#readAheads.length > 0 &&
      this.readers.every((r) => this.#readAheads.includes(r) && r.units.size === 0) &&
      groups.some((g) => {
        const reader = this.#readAheads.find((r) => r.keeps(g[0]!.partition));
        return !reader || g[0]!.checkpoint - reader.position > REAIM_BEHIND;
      });
    if (this.readers.length > 0 && !overtaken) return;
    const { js, stream } = this.options;
    const last = (await (await js.streams.get(stream)).info()).state.last_seq;
    // Stopped first: while old and new read, an old one could be merged into a new one.
    for (const old of this.#readAheads.splice(0)) {
      this.readers.splice(this.readers.indexOf(old), 1);
      await old.stop();
    }
    for (const group of groups) {
      const newest = group[0]!.checkpoint;
      const reader = this.#reader(newest + 1 + Math.max(0, Math.min(last - newest, readAhead)), "prefetch");
      this.#streamEnds.set(reader, last);
      reader.reserve(group.map((u) => u.partition));
      this.readers.push(reader);
      this.#readAheads.push(reader);
      try {
        await reader.start();
      } catch (err) {
        this.readers.splice(this.readers.indexOf(reader), 1);
        this.#readAheads.splice(this.#readAheads.indexOf(reader), 1);
        await reader.stop();
        throw err;
      }
    }
  }

  /**
   * No read-ahead reads a backlog: each is parked, or has read to within `AT_REST` of where the
   * stream ended when it started and has fewer than that still to read (it follows the head).
   */
  get readAheadsAtRest(): boolean {
    return this.#readAheads.every(
      (r) =>
        !this.readers.includes(r) ||
        r.parked ||
        (r.pending < AT_REST && r.position + AT_REST >= (this.#streamEnds.get(r) ?? 0)),
    );
  }

  /**
   * Where the read-ahead of each expected unit starts, by partition, while it still keeps the
   * unit's events (a unit acquired or gone elsewhere is no longer there).
   */
  readAheadStarts(): Map<number, number> {
    const out = new Map<number, number>();
    for (const reader of this.#readAheads) {
      if (!this.readers.includes(reader)) continue;
      for (const partition of reader.kept()) out.set(partition, reader.options.startSeq);
    }
    return out;
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
    // A read-ahead left with nothing to keep or serve (its units went elsewhere) stops.
    for (const reader of this.readers.filter((r) => r.idle)) {
      this.readers.splice(this.readers.indexOf(reader), 1);
      void reader.stop();
    }
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
      keepAhead: purpose === "prefetch" ? (this.options.keepAhead ?? KEEP_AHEAD) : undefined,
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
    // A read-ahead still keeping events for units to come: merged, they would be lost.
    if (reader.keeping) return;
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

/**
 * How far past the owners' newest checkpoint a (re-aimed) read-ahead starts: `READ_AHEAD`, or
 * half as far again as the owners moved since the last look (`seen`: the checkpoints then) when
 * that is more, at most `READ_AHEAD_MAX`. Catching up a backlog, busy owners applied more than
 * `READ_AHEAD` while the joiner's first read-ahead read what it keeps, and a read-ahead re-aimed
 * just as far ahead was overtaken again the same way before the join: the owners released at
 * once, past all it had kept, and its units waited half a second for it to read on.
 */
export function aimAhead(
  units: readonly { partition: number; checkpoint: number; projection: string; generation: number }[],
  seen: ReadonlyMap<string, number> | undefined,
): number {
  let moved = 0;
  for (const u of units) {
    const before = seen?.get(unitId(u));
    if (before !== undefined) moved = Math.max(moved, u.checkpoint - before);
  }
  return Math.min(READ_AHEAD_MAX, Math.max(READ_AHEAD, Math.round(moved * 1.5)));
}

/**
 * Expected units in groups whose checkpoints lie within `READ_AHEAD_GROUP` of the group's newest,
 * newest group first, each sorted newest first; at most `MAX_READ_AHEADS` groups.
 */
function groupByCheckpoint<U extends { checkpoint: number }>(units: readonly U[]): U[][] {
  const groups: U[][] = [];
  for (const u of [...units].sort((a, b) => b.checkpoint - a.checkpoint)) {
    const group = groups.at(-1);
    if (group && group[0]!.checkpoint - u.checkpoint <= READ_AHEAD_GROUP) group.push(u);
    else if (groups.length < MAX_READ_AHEADS) groups.push([u]);
  }
  return groups;
}
