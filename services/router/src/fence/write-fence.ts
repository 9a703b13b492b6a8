import type { Logger } from "@dbplane/service-kit";
import { ChangeSignal } from "./change-signal.ts";
import { FenceBook } from "./fence-book.ts";
import { ackKey, type FenceBuckets, type FenceDocument } from "./fence-documents.ts";
import { FenceHoldError } from "./fence-errors.ts";
import type { FenceMetrics } from "./fence-metrics.ts";
import { ReplicaLease } from "./replica-lease.ts";

/** Ends a tracked write; safe to call more than once. */
export type Release = () => void;

/** Where a write goes, as planned: the shard map version it was planned by, and its shards. */
export interface WritePlan {
  readonly mapVersion: number;
  readonly shards: readonly number[];
  /**
   * A read: held only by a fence raised with `reads` (a cut-over that changes what the shards
   * show), and never tracked — the acknowledgement does not wait for reads.
   */
  readonly read?: boolean;
}

export interface WriteFenceOptions {
  readonly buckets: FenceBuckets;
  /** This replica's id (`replicaId()`): names its heartbeat and acknowledgements. */
  readonly replica: string;
  readonly heartbeatMs: number;
  readonly leaseMs: number;
  /** A write held longer than this fails with FenceHoldError. */
  readonly maxHoldMs: number;
  readonly metrics: FenceMetrics;
  readonly logger: Logger;
  /**
   * Asked, while a write waits for a lifted fence's map version this replica has not installed,
   * to read that database's map from the bucket directly (every `MAP_CATCH_UP_MS`): the bucket
   * watch that normally brings it can lag for seconds on a loaded machine.
   */
  readonly catchUpMap?: (database: string) => void;
}

/** How often a held write asks for the map it waits for (see `catchUpMap`). */
const MAP_CATCH_UP_MS = 500;
/** A wait slice ended (not the hold): look again. */
const SLICE_ENDED = new Error("slice ended");

const noop: Release = () => {};
/** No shards: only the lease is asked. */
const LEASE_ONLY: WritePlan = { mapVersion: Number.MAX_SAFE_INTEGER, shards: [] };

/**
 * This replica's side of the write fences: follows the fence bucket, holds writes to a fenced
 * shard, counts writes in flight per shard and acknowledges a raised fence once none is left on
 * its shard. Reads never come here. A write is admitted (and tracked from that moment, in the
 * same synchronous step, so no fence can be acknowledged between the check and the tracking)
 * only while this replica's lease is fresh and after it has read the fences at start.
 */
export class WriteFence {
  readonly #o: WriteFenceOptions;
  readonly #lease: ReplicaLease;
  readonly #book: FenceBook;
  readonly #changed = new ChangeSignal();
  /** Writes in flight per `database\0shard`. */
  readonly #inFlight = new Map<string, number>();
  /** Fence revisions acknowledged (or being acknowledged), by KV key. */
  readonly #acked = new Map<string, number>();
  readonly #abort = new AbortController();
  #loaded = false;
  #following: Promise<void> | undefined;

  constructor(options: WriteFenceOptions) {
    this.#o = options;
    options.metrics.follow(this);
    this.#book = new FenceBook(options.buckets.fences, options.logger, () => {
      this.#acknowledge();
      this.#changed.wake();
    });
    this.#lease = new ReplicaLease({
      replicas: options.buckets.replicas,
      replica: options.replica,
      heartbeatMs: options.heartbeatMs,
      leaseMs: options.leaseMs,
      logger: options.logger,
      beforeFresh: () => this.#book.load(),
      onRenewed: (lapsed) => {
        // A failed acknowledgement is tried again here.
        this.#acknowledge();
        if (lapsed) this.#changed.wake();
      },
    });
  }

  get replica(): string {
    return this.#o.replica;
  }

  /** Heartbeat first, then the fences: a coordinator that did not see this heartbeat raised its fence before this read. */
  async start(): Promise<void> {
    await this.#lease.start();
    this.#loaded = true;
    this.#following = this.#book.follow(this.#abort.signal);
  }

  /** Stops admitting writes, deletes the heartbeat and stops following the bucket. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#lease.stop();
    await this.#following;
    this.#changed.wake();
  }

  /** The fences this replica follows (lifted ones included), for metrics. */
  known(): { database: string; shard: number; id: string; state: FenceDocument["state"] }[] {
    return [...this.#book.fences()].map(({ doc }) => ({
      database: doc.database,
      shard: doc.shard,
      id: doc.id,
      state: doc.state,
    }));
  }

  /** Call when this replica installs a new shard map version: held writes may now re-plan. */
  mapsChanged(): void {
    this.#changed.wake();
  }

  /** True while this replica may admit writes at all (lease fresh, fences read, not stopping). */
  get admitting(): boolean {
    return this.#loaded && this.#lease.fresh && !this.#abort.signal.aborted;
  }

  /**
   * Admits a write now or not at all: its release when nothing holds it (the write is tracked
   * from this moment until the release), else undefined. No shards: only the lease is checked
   * (a transaction's next statement on shards it already holds).
   */
  admitNow(database: string, plan: WritePlan): Release | undefined {
    if (plan.read) return this.#book.blocking(database, plan) === undefined ? noop : undefined;
    if (!this.admitting || this.#book.blocking(database, plan) !== undefined) return undefined;
    return plan.shards.length === 0 ? noop : this.track(database, plan.shards);
  }

  /**
   * Whether a read planned by `mapVersion` on `shards` must wait (a reads fence stands on one of
   * them, or was lifted for a newer map): a synchronous check, so reads cost nothing otherwise.
   */
  holdsRead(database: string, mapVersion: number, shards: readonly number[]): boolean {
    return this.#book.blocking(database, { mapVersion, shards, read: true }) !== undefined;
  }

  /**
   * Admits a write, waiting while a fence holds it. `plan` says where the write goes under this
   * replica's current map and is called again after each wait (a lifted fence's new map may
   * send the write elsewhere); undefined: it writes nothing, admitted at once. Rejects with
   * FenceHoldError after `maxHoldMs`, FenceHoldAbortedError when `signal` aborts.
   */
  async admit(
    database: string,
    plan: () => WritePlan | undefined | Promise<WritePlan | undefined>,
    signal?: AbortSignal,
  ): Promise<Release> {
    let planned = await plan();
    if (planned === undefined) return noop;
    const now = this.admitNow(database, planned);
    if (now) return now;
    this.#o.metrics.held(database);
    const started = performance.now();
    let outcome: "admitted" | "timeout" | "aborted" = "aborted";
    try {
      for (;;) {
        const deadline = started + this.#o.maxHoldMs;
        const sliceEnd = Math.min(deadline, performance.now() + MAP_CATCH_UP_MS);
        try {
          await this.#changed.next(sliceEnd, signal, () =>
            sliceEnd < deadline ? SLICE_ENDED : this.#holdError(database, planned!, started),
          );
        } catch (err) {
          if (err !== SLICE_ENDED) throw err;
          this.#catchUp(database, planned);
        }
        planned = await plan();
        if (planned === undefined) {
          outcome = "admitted";
          return noop;
        }
        const release = this.admitNow(database, planned);
        if (release) {
          outcome = "admitted";
          return release;
        }
      }
    } catch (err) {
      if (err instanceof FenceHoldError) outcome = "timeout";
      throw err;
    } finally {
      this.#o.metrics.released(database, outcome, (performance.now() - started) / 1000);
    }
  }

  /**
   * Resolves while (or once) this replica admits writes at all: before a COMMIT makes a
   * transaction's writes visible — a coordinator may have passed a replica whose lease lapsed.
   * Rejects like `admit`.
   */
  async whileAdmitting(database: string, signal?: AbortSignal): Promise<void> {
    await this.admit(database, () => LEASE_ONLY, signal);
  }

  /** Marks a write in flight on `shards` until the release: acknowledgements wait for it. */
  track(database: string, shards: readonly number[]): Release {
    const keys = [...new Set(shards)].map((shard) => `${database}\0${shard}`);
    for (const key of keys) this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const key of keys) {
        const left = (this.#inFlight.get(key) ?? 1) - 1;
        if (left === 0) this.#inFlight.delete(key);
        else this.#inFlight.set(key, left);
      }
      this.#acknowledge();
    };
  }

  /** The write waits for a lifted fence's map version: have the map read from the bucket. */
  #catchUp(database: string, plan: WritePlan): void {
    const fence = this.#book.blocking(database, plan);
    if (fence && fence.state !== "raised" && (fence.mapVersion ?? 0) > plan.mapVersion) {
      this.#o.catchUpMap?.(database);
    }
  }

  #holdError(database: string, plan: WritePlan, started: number): FenceHoldError {
    const fence = this.#book.blocking(database, plan);
    const reason =
      fence === undefined
        ? "this router replica's lease lapsed (NATS unreachable)"
        : fence.state === "raised"
          ? `fence ${fence.id} raised on shard ${fence.shard}`
          : `fence ${fence.id} lifted for shard map version ${fence.mapVersion}, not yet applied here`;
    return new FenceHoldError(database, plan.shards, performance.now() - started, reason);
  }

  /** Acknowledges every raised fence whose shard has no write in flight here. */
  #acknowledge(): void {
    if (this.#abort.signal.aborted) return;
    for (const { key, doc, revision } of this.#book.fences()) {
      if (doc.state !== "raised" || this.#acked.get(key) === revision) continue;
      if (this.#inFlight.has(`${doc.database}\0${doc.shard}`)) continue;
      this.#acked.set(key, revision);
      const { replica } = this.#o;
      this.#o.buckets.acks
        .put(ackKey(doc.database, doc.id, replica), { replica, revision, at: new Date().toISOString() })
        .catch((err: unknown) => {
          // Tried again at the next change or heartbeat; until then the coordinator waits.
          if (this.#acked.get(key) === revision) this.#acked.delete(key);
          this.#o.logger.warn(
            { err, fence: doc.id, database: doc.database },
            "write fence: acknowledgement failed",
          );
        });
    }
  }
}
