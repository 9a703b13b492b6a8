import { type HeaderGetter, headerGetter } from "@dbplane/bus";
import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { decodeStreamMessage } from "./event-decoding.ts";
import { partitionOf } from "./partition.ts";
import type { ProjectionEvent } from "./projection.ts";
import type { RuntimeLogger as Logger } from "./runtime-logger.ts";
import { type EventSource, UNIT_HIGH_WATER, type UnitWorker } from "./unit-worker.ts";

/**
 * Longest the reader dispatches buffered messages without letting timers and sockets in. By
 * time, not by count: a count (256 messages) held the loop for tens of milliseconds on a loaded
 * machine, and a hand-over's NOTIFY, view and first commit all wait behind it.
 */
const YIELD_AFTER_MS = 4;

/**
 * A parked read-ahead reads on for its units once one has fewer events than this left of what was
 * kept for it (before, when every unit expected on it has arrived and committed once).
 */
export const RESUME_BELOW = 500;
/** How often a parked read-ahead with units looks at how many events they have left. */
const RESUME_POLL_MS = 20;

export interface StreamReaderOptions {
  readonly js: JetStreamClient;
  readonly stream: string;
  /** One wire subject filter (NATS 2.9 allows one per consumer). */
  readonly filter: string;
  readonly types: ReadonlySet<string> | undefined;
  readonly partitions: number;
  readonly startSeq: number;
  readonly contractSubject: (wire: string) => string;
  readonly logger: Logger;
  /** Called after every message, so a catch-up reader can hand its units over once it is level. */
  readonly onAdvance: (reader: StreamReader) => void;
  /** Called when the consumer failed (not when stopped): the owner starts a replacement. */
  readonly onFailed: (reader: StreamReader, err: unknown) => void;
  /**
   * A read-ahead (events kept, no unit yet) stops reading this many sequences past its start,
   * and reads on from there once a unit is claimed or adopted. Unbounded if undefined.
   */
  readonly keepAhead?: number;
}

/**
 * Reads the projection's events once for all the units it serves (an ordered consumer from
 * `startSeq`) and hands each to the unit of its aggregate's partition. `position` only moves
 * after a message was dispatched, so "everything ≤ position was offered" always holds.
 */
export class StreamReader implements EventSource {
  readonly units = new Map<number, UnitWorker>();
  /**
   * Partitions expected to be handed to this replica (`reserve`): every event of theirs read so
   * far is kept, in stream order, for the unit's worker once it is acquired (`claim`).
   */
  readonly #reserved = new Map<number, ProjectionEvent[]>();
  readonly options: StreamReaderOptions;
  position: number;
  /** Matching messages still in the stream after the last one read. */
  pending = 0;
  #messages: ConsumerMessages | undefined;
  #closed = false;
  /** Stopped reading at `keepAhead` (its consumer closed) until its units need more. */
  #parked = false;
  /** Units adopted while parked that have not committed yet. */
  readonly #uncommitted = new Set<UnitWorker>();
  #resumePoll: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: StreamReaderOptions) {
    this.options = options;
    this.position = options.startSeq - 1;
  }

  adopt(unit: UnitWorker, partition: number): void {
    this.units.set(partition, unit);
    unit.moveTo(this);
    if (!this.#parked) return;
    this.#uncommitted.add(unit);
    void unit.firstCommit.then(() => {
      this.#uncommitted.delete(unit);
      this.#resumeIfDue();
    });
    this.#resumePoll ??= setInterval(() => this.#resumeIfDue(), RESUME_POLL_MS);
  }

  /**
   * A parked read-ahead reads on once every unit expected on it arrived and committed once, as
   * soon as a unit that committed has fewer than `RESUME_BELOW` events left, or when a unit has
   * none at all. Not at the first
   * unit's arrival: the others are still paused, each waiting for its first commit, and reading
   * on (a consumer to create, a backlog to parse) kept the replica busy whenever it got a core,
   * and their round trips to PostgreSQL waited for it: profiled, a joiner read on through its last
   * units' first commits (580–610 ms, where its first units' took 50–90).
   */
  #resumeIfDue(): void {
    // Left with no unit (they all went elsewhere, or started on readers of their own): nothing to
    // read on for — it is stopped as idle. Resuming made a consumer and read a backlog for
    // nobody, on the event loop the moved units' first commits wait for (traced: 150 ms).
    if (!this.#parked || this.#closed || this.units.size === 0) return;
    const units = new Set(this.units.values());
    // A unit stopped before it committed (it moved on again) is waited for no more.
    for (const u of this.#uncommitted) if (!units.has(u)) this.#uncommitted.delete(u);
    const arrived = this.#reserved.size === 0 && this.#uncommitted.size === 0;
    const hungry = [...units].some((u) => !this.#uncommitted.has(u) && u.queued < RESUME_BELOW);
    // A unit with nothing to apply — released past everything kept for it (its old owner overtook
    // the read-ahead, and by more than it keeps) — commits only once this reads on: waiting for
    // its first commit parked both for good (a moved unit stood still until the next rebalance).
    const starved = [...units].some((u) => u.queued === 0);
    if (arrived || hungry || starved) this.#resume();
  }

  /** Keeps the events of `partitions` from `startSeq` on until their units are claimed. */
  reserve(partitions: Iterable<number>): void {
    for (const p of partitions) if (!this.units.has(p)) this.#reserved.set(p, []);
  }

  /**
   * Serves an acquired unit from what was kept for its partition, without a consumer of its own:
   * the kept events past its checkpoint are offered first, then it reads on with the others.
   * False (nothing changed) when the partition was not kept or the unit's checkpoint is below
   * where this reader started — events it never read would be missing.
   */
  claim(unit: UnitWorker, partition: number): boolean {
    const kept = this.#reserved.get(partition);
    if (!kept || this.#closed || unit.checkpoint + 1 < this.options.startSeq) return false;
    this.#reserved.delete(partition);
    for (const event of kept) unit.offer(event);
    this.adopt(unit, partition);
    return true;
  }

  /** Stops keeping a partition's events (its unit starts elsewhere); always false, for `some`. */
  unreserve(partition: number): false {
    this.#reserved.delete(partition);
    this.#resumeIfDue();
    return false;
  }

  /** Some partition's events are being kept for a unit expected here (`reserve`). */
  get keeping(): boolean {
    return this.#reserved.size > 0;
  }

  /** Whether `partition`'s events are being kept. */
  keeps(partition: number): boolean {
    return this.#reserved.has(partition);
  }

  /** The partitions whose events are being kept. */
  kept(): number[] {
    return [...this.#reserved.keys()];
  }

  /** Stopped reading: parked at `keepAhead` (until its units need more), or stopped for good. */
  get parked(): boolean {
    return this.#parked || this.#closed;
  }

  /** Nothing to read for: no unit and nothing kept. */
  get idle(): boolean {
    return this.units.size === 0 && this.#reserved.size === 0;
  }

  async start(): Promise<void> {
    await this.#open(Math.max(1, this.options.startSeq));
  }

  async #open(from: number): Promise<void> {
    const { js, stream, filter } = this.options;
    this.#trace("reader starting", { from });
    const consumer = await js.consumers.get(stream, { filter_subjects: filter, opt_start_seq: from });
    this.#trace("reader consumer created");
    // Short pulls (5 s, heartbeats every 2.5 s) instead of nats.js's 30 s: after a NATS restart
    // the server has forgotten this ephemeral consumer, and the client only notices by missed
    // heartbeats — with the defaults the projection stood still for ~40 s.
    this.#messages = await consumer.consume({ max_messages: 2_000, expires: 5_000 });
    this.#trace("reader consuming");
    if (this.#closed) await this.#messages.close();
    this.#loop = this.#run(this.#messages);
  }

  /**
   * A read-ahead far enough past its start with no unit to read for: it stops, rather than read a
   * backlog on (tens of thousands of events, traced, while the units it waited for were handed
   * over on the same cores). nats.js pulls as messages arrive, not as they are iterated: a reader
   * that only stopped iterating would still receive the backlog, so the consumer is closed.
   */
  #parkable(): boolean {
    const { keepAhead, startSeq } = this.options;
    return keepAhead !== undefined && this.units.size === 0 && this.position - startSeq + 1 >= keepAhead;
  }

  /** A parked read-ahead reads on from where it stopped, for the unit that just arrived. */
  #resume(): void {
    this.#parked = false;
    clearInterval(this.#resumePoll);
    this.#resumePoll = undefined;
    this.#open(this.position + 1).catch((err) => this.#failed(err));
  }

  async #run(messages: ConsumerMessages): Promise<void> {
    const { types, partitions, contractSubject } = this.options;
    try {
      let sliceStart = performance.now();
      let first = true;
      for await (const m of messages) {
        if (this.#closed) break;
        if (first) {
          first = false;
          this.#trace("reader first message", { seq: m.seq, pending: m.info.pending });
        }
        // Route on two headers; only the units' own events pay for the full decode.
        const header = headerGetter(m);
        const type = header("ce-type");
        if (!types || !type || types.has(type)) {
          const aggregate = header("ce-subject") || contractSubject(m.subject);
          const partition = partitionOf(aggregate, partitions);
          const unit = this.units.get(partition);
          if (unit) {
            if (m.seq > unit.position()) {
              unit.offer(decodeStreamMessage(m, contractSubject, header));
              await unit.belowHighWater();
            }
          } else this.#keep(partition, m, contractSubject, header);
        }
        this.position = m.seq;
        this.pending = m.info.pending;
        this.options.onAdvance(this);
        if (this.#parkable()) {
          this.#parked = true;
          this.#trace("reader parked", { position: this.position });
          // Out of the loop first: nats.js resolves close() only once the iterator has passed its
          // stop marker — or has been left. Awaited from in here, it never resolved: the loop hung
          // there, and so did stopping the parked reader (a re-aim before the join, a shutdown).
          break;
        }
        // Buffered messages resolve as microtasks and would starve timers and sockets
        // (heartbeats, the units' PostgreSQL replies); let them in regularly.
        if (performance.now() - sliceStart >= YIELD_AFTER_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
      }
      if (this.#parked) {
        await messages.close().catch(() => {});
        return;
      }
      if (!this.#closed) throw new Error("ordered consumer ended");
    } catch (err) {
      this.#failed(err);
    }
  }

  #failed(err: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.options.logger.error(
      { err, stream: this.options.stream, position: this.position },
      "stream reader failed; restarting",
    );
    this.options.onFailed(this, err);
  }

  /** BENCH_TRACE: a reader's steps, with where it started and the units it serves. */
  #trace(msg: string, extra: object = {}): void {
    this.options.logger.debug?.(
      { readerStart: this.options.startSeq, partitions: [...this.units.keys()], ...extra },
      msg,
    );
  }

  #keep(partition: number, m: JsMsg, contractSubject: (wire: string) => string, header: HeaderGetter): void {
    const kept = this.#reserved.get(partition);
    if (!kept) return;
    kept.push(decodeStreamMessage(m, contractSubject, header));
    // Bounded as a unit's queue is: a unit that is long in coming gets a reader of its own.
    if (kept.length > UNIT_HIGH_WATER) this.#reserved.delete(partition);
  }

  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#resumePoll);
    await this.#messages?.close().catch(() => {});
    await this.#loop;
  }
}
