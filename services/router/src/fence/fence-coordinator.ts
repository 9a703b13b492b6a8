import type { Logger } from "@dbplane/service-kit";
import { FENCE_ID, type FenceBuckets, fenceKey } from "./fence-documents.ts";
import { FenceTimeoutError } from "./fence-errors.ts";
import type { FenceMetrics } from "./fence-metrics.ts";

/** How long past a raise's timeout one round of reading acknowledgements may take. */
const ROUND_GRACE_MS = 2_000;

/** `promise`'s value, or undefined once `ms` have passed without one. */
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The orchestrator's side of the write fence (any replica, or any process on the bus). */
export interface FenceCoordinator {
  /**
   * Raises the fence on `shard` of `database` and waits until every live router replica
   * acknowledged it (no new write to the shard, none in flight, no transaction that wrote there
   * still open). On timeout: lifts it and throws FenceTimeoutError naming the replicas that did
   * not acknowledge. Raising an id again (after a crash) starts a new round of acknowledgements.
   */
  raise(opts: {
    database: string;
    shard: number;
    id: string;
    timeoutMs: number;
    /** Hold reads of the shard as well (they are not waited for, only held while it stands). */
    reads?: boolean;
  }): Promise<{ replicas: string[]; ackMs: number }>;
  /**
   * Lifts it; `mapVersion`: held writes wait until their replica routes by at least this version
   * (the cut-over's new map), then are planned again. Lifting an unknown id does nothing.
   */
  lift(opts: { database: string; id: string; mapVersion?: number }): Promise<void>;
}

export interface KvFenceCoordinatorOptions {
  readonly buckets: FenceBuckets;
  readonly metrics: FenceMetrics;
  readonly logger: Logger;
  /** How often a raise looks at acknowledgements and heartbeats. Default 50 ms. */
  readonly pollMs?: number;
}

/**
 * Fences in the KV buckets. Liveness is judged on the NATS server's clock only: a replica is
 * waited for when its last heartbeat is younger than its lease at the moment the fence was
 * written (both entries stamped by the server), and stops being waited for once it has not
 * renewed within its lease since (the local clock's offset to the server's measured at the
 * raise). A replica whose first heartbeat is later than the fence reads the fence before it
 * admits any write, so it need not acknowledge.
 */
export class KvFenceCoordinator implements FenceCoordinator {
  readonly #o: KvFenceCoordinatorOptions;

  constructor(options: KvFenceCoordinatorOptions) {
    this.#o = options;
  }

  async raise({
    database,
    shard,
    id,
    timeoutMs,
    reads,
  }: Parameters<FenceCoordinator["raise"]>[0]): Promise<{ replicas: string[]; ackMs: number }> {
    if (!FENCE_ID.test(id)) throw new TypeError(`fence id "${id}" must match ${FENCE_ID}`);
    if (!Number.isInteger(shard) || shard < 0) throw new TypeError(`shard must be an index, got ${shard}`);
    const { fences } = this.#o.buckets;
    const started = performance.now();
    const sentAt = Date.now();
    const revision = await fences.put(fenceKey(database, id), {
      database,
      id,
      shard,
      state: "raised",
      ...(reads ? { reads: true } : {}),
      raisedAt: new Date().toISOString(),
    });
    try {
      return await this.#awaitAcks(database, shard, id, revision, timeoutMs, sentAt, started);
    } catch (err) {
      // No fence stays raised by a raise that failed; if even the lift fails, the caller's
      // lift (retried) or its resume after a crash must do it.
      await this.lift({ database, id }).catch((liftErr: unknown) =>
        this.#o.logger.error(
          { err: liftErr, database, fence: id },
          "write fence: lift after a failed raise failed",
        ),
      );
      throw err;
    }
  }

  async #awaitAcks(
    database: string,
    shard: number,
    id: string,
    revision: number,
    timeoutMs: number,
    sentAt: number,
    started: number,
  ): Promise<{ replicas: string[]; ackMs: number }> {
    const written = await this.#o.buckets.fences.entry(fenceKey(database, id));
    if (written?.revision !== revision) {
      throw new Error(
        `fence ${id} of database ${database} changed while being raised (revision ${written?.revision})`,
      );
    }
    const raisedAt = written.created.getTime();
    // Server time minus local time, within half the round trip.
    const offset = raisedAt - (sentAt + Date.now()) / 2;
    this.#o.logger.info(
      { database, shard, fence: id, revision },
      "write fence raised; waiting for acknowledgements",
    );
    let lastWaiting: string[] = [];
    for (;;) {
      // A KV read that never answers must not hold the raise (and the reshard behind it) for good.
      const budget = Math.max(timeoutMs - (performance.now() - started), 0) + ROUND_GRACE_MS;
      const round = await withDeadline(
        this.#round(database, id, revision, raisedAt, Date.now() + offset),
        budget,
      );
      if (round === undefined) {
        this.#o.metrics.raised("timeout", (performance.now() - started) / 1000);
        throw new FenceTimeoutError(database, shard, id, lastWaiting, timeoutMs);
      }
      const { waiting, acked } = round;
      lastWaiting = waiting;
      const ackMs = performance.now() - started;
      if (waiting.length === 0) {
        this.#o.metrics.raised("acknowledged", ackMs / 1000);
        this.#o.logger.info(
          { database, shard, fence: id, replicas: acked, ackMs },
          "write fence acknowledged",
        );
        return { replicas: acked, ackMs };
      }
      if (ackMs >= timeoutMs) {
        this.#o.metrics.raised("timeout", ackMs / 1000);
        throw new FenceTimeoutError(database, shard, id, waiting, timeoutMs);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.#o.pollMs ?? 50, timeoutMs - ackMs)));
    }
  }

  /** Who acknowledged this raise, and which live replicas have not yet. */
  async #round(database: string, id: string, revision: number, raisedAt: number, serverNow: number) {
    const { acks, replicas } = this.#o.buckets;
    const acked = new Set<string>();
    for (const key of await acks.keys(`${fenceKey(database, id)}.*`)) {
      const ack = await acks.get(key);
      if (ack?.value.revision === revision) acked.add(ack.value.replica);
    }
    const waiting: string[] = [];
    for (const key of await replicas.keys()) {
      const beat = await replicas.get(key);
      if (beat === undefined || acked.has(beat.value.replica)) continue;
      const at = beat.created.getTime();
      const { leaseMs } = beat.value;
      if (at < raisedAt - leaseMs || serverNow - at > leaseMs) continue; // gone, or went since
      waiting.push(beat.value.replica);
    }
    return { waiting: waiting.sort(), acked: [...acked].sort() };
  }

  async lift({ database, id, mapVersion }: Parameters<FenceCoordinator["lift"]>[0]): Promise<void> {
    const { fences, acks } = this.#o.buckets;
    const lifted = await fences.updateWith(fenceKey(database, id), (current) =>
      current === undefined
        ? undefined
        : {
            ...current,
            state: "lifted",
            liftedAt: new Date().toISOString(),
            ...(mapVersion === undefined
              ? {}
              : { mapVersion: Math.max(mapVersion, current.mapVersion ?? 0) }),
          },
    );
    if (lifted === undefined) return;
    for (const key of await acks.keys(`${fenceKey(database, id)}.*`)) await acks.delete(key);
    this.#o.logger.info({ database, shard: lifted.value.shard, fence: id, mapVersion }, "write fence lifted");
  }

  /**
   * Deletes every fence of a deleted database (and its acknowledgements): a database created
   * again under the same name starts over at map version 1, which a lifted fence's mapVersion
   * would otherwise hold writes against for good.
   */
  async forget(database: string): Promise<number> {
    const { fences, acks } = this.#o.buckets;
    const doomed = await fences.keys(`${database}.*`);
    for (const key of await acks.keys(`${database}.*.*`)) await acks.delete(key);
    for (const key of doomed) await fences.delete(key);
    return doomed.length;
  }
}
