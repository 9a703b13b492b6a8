import type { Logger } from "@dbplane/service-kit";
import { ackKey, type FenceBuckets, type FenceDocument } from "./fence-documents.ts";
import { FenceHoldAbortedError, FenceHoldError } from "./fence-errors.ts";
import type { FenceMetrics } from "./fence-metrics.ts";
import { ReplicaLease } from "./replica-lease.ts";

/** Ends a tracked write; safe to call more than once. */
export type Release = () => void;

/** Where a write goes, as planned: the shard map version it was planned by, and its shards. */
export interface WritePlan {
  readonly mapVersion: number;
  readonly shards: readonly number[];
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
}

interface KnownFence {
  readonly doc: FenceDocument;
  readonly revision: number;
}

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
  /** By KV key; lifted fences stay (their mapVersion keeps gating writes planned by older maps). */
  readonly #fences = new Map<string, KnownFence>();
  /** Last revision seen per key (deletes included), so a replayed change is not applied twice. */
  readonly #seen = new Map<string, number>();
  /** Writes in flight per `database\0shard`. */
  readonly #inFlight = new Map<string, number>();
  /** Fence revisions acknowledged (or being acknowledged), by KV key. */
  readonly #acked = new Map<string, number>();
  readonly #abort = new AbortController();
  #changed = Promise.withResolvers<void>();
  #loaded = false;
  #following: Promise<void> | undefined;

  constructor(options: WriteFenceOptions) {
    this.#o = options;
    options.metrics.follow(this);
    this.#lease = new ReplicaLease({
      replicas: options.buckets.replicas,
      replica: options.replica,
      heartbeatMs: options.heartbeatMs,
      leaseMs: options.leaseMs,
      logger: options.logger,
      beforeFresh: () => this.#load(),
      onRenewed: (lapsed) => {
        // A failed acknowledgement is tried again here.
        this.#acknowledge();
        if (lapsed) this.#wake();
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
    this.#following = this.#follow();
  }

  /** Stops admitting writes, deletes the heartbeat and stops following the bucket. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#lease.stop();
    await this.#following;
    this.#wake();
  }

  /** The fences this replica follows (lifted ones included), for metrics. */
  known(): { database: string; shard: number; id: string; state: FenceDocument["state"] }[] {
    return [...this.#fences.values()].map(({ doc }) => ({
      database: doc.database,
      shard: doc.shard,
      id: doc.id,
      state: doc.state,
    }));
  }

  /** Call when this replica installs a new shard map version: held writes may now re-plan. */
  mapsChanged(): void {
    this.#wake();
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
    if (!this.admitting || this.#blocking(database, plan) !== undefined) return undefined;
    return plan.shards.length === 0 ? noop : this.track(database, plan.shards);
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
        await this.#waitForChange(started + this.#o.maxHoldMs, signal, () =>
          this.#holdError(database, planned!, started),
        );
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

  /** The fence holding a write, if one does: raised on one of its shards, or lifted for a newer map than it was planned by. */
  #blocking(database: string, plan: WritePlan): FenceDocument | undefined {
    for (const { doc } of this.#fences.values()) {
      if (doc.database !== database || !plan.shards.includes(doc.shard)) continue;
      if (doc.state === "raised") return doc;
      if (doc.mapVersion !== undefined && plan.mapVersion < doc.mapVersion) return doc;
    }
    return undefined;
  }

  #holdError(database: string, plan: WritePlan, started: number): FenceHoldError {
    const fence = this.#blocking(database, plan);
    const reason =
      fence === undefined
        ? "this router replica's lease lapsed (NATS unreachable)"
        : fence.state === "raised"
          ? `fence ${fence.id} raised on shard ${fence.shard}`
          : `fence ${fence.id} lifted for shard map version ${fence.mapVersion}, not yet applied here`;
    return new FenceHoldError(database, plan.shards, performance.now() - started, reason);
  }

  async #waitForChange(
    deadline: number,
    signal: AbortSignal | undefined,
    timeout: () => Error,
  ): Promise<void> {
    if (signal?.aborted) throw new FenceHoldAbortedError("the held write was cancelled");
    const left = deadline - performance.now();
    if (left <= 0) throw timeout();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        this.#changed.promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(timeout()), left);
          onAbort = () => reject(new FenceHoldAbortedError("the held write was cancelled"));
          signal?.addEventListener("abort", onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  #wake(): void {
    const changed = this.#changed;
    this.#changed = Promise.withResolvers<void>();
    changed.resolve();
  }

  /** Reads every fence (at start, and after a lapsed lease). */
  async #load(): Promise<void> {
    const { fences } = this.#o.buckets;
    for (const key of await fences.keys()) {
      const entry = await fences.entry(key);
      if (entry) this.#apply(key, entry.value, entry.revision);
    }
  }

  async #follow(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        for await (const change of this.#o.buckets.fences.watch(undefined, { signal })) {
          this.#apply(change.key, change.value, change.revision);
        }
      } catch (err) {
        if (signal.aborted) return;
        this.#o.logger.warn({ err }, "write fence: fence watch failed; restarting");
      }
      if (!signal.aborted) await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  #apply(key: string, value: FenceDocument | undefined, revision: number): void {
    if ((this.#seen.get(key) ?? 0) >= revision) return;
    this.#seen.set(key, revision);
    const doc = value;
    const before = this.#fences.get(key)?.doc;
    // A fence lifted without a map version gates nothing any more.
    if (doc === undefined || (doc.state === "lifted" && doc.mapVersion === undefined))
      this.#fences.delete(key);
    else this.#fences.set(key, { doc, revision });
    if (doc?.state !== before?.state || doc?.mapVersion !== before?.mapVersion) {
      this.#o.logger.info(
        {
          fence: doc?.id ?? key,
          database: doc?.database,
          shard: doc?.shard,
          state: doc?.state ?? "deleted",
          mapVersion: doc?.mapVersion,
        },
        "write fence changed",
      );
    }
    this.#acknowledge();
    this.#wake();
  }

  /** Acknowledges every raised fence whose shard has no write in flight here. */
  #acknowledge(): void {
    if (this.#abort.signal.aborted) return;
    for (const [key, { doc, revision }] of this.#fences) {
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
