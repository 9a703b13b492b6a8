import { hostname } from "node:os";
import type { BusKv } from "@dbplane/bus";
import type { Logger } from "@dbplane/service-kit";
import { type ReplicaHeartbeat, replicaKey } from "./fence-documents.ts";

export interface ReplicaLeaseOptions {
  readonly replicas: BusKv<ReplicaHeartbeat>;
  readonly replica: string;
  readonly heartbeatMs: number;
  readonly leaseMs: number;
  readonly logger: Logger;
  /**
   * Runs after a heartbeat that follows a lapse (and before the first one counts): the replica
   * re-reads the fences, because while it was not renewing, a coordinator may have raised one
   * without waiting for it.
   */
  readonly beforeFresh: () => Promise<void>;
  /** After each renewal; `lapsed`: the lease had lapsed (or never started) and is fresh again. */
  readonly onRenewed: (lapsed: boolean) => void;
}

/**
 * This replica's heartbeat in the replicas bucket, and whether it may admit writes. A
 * coordinator counts a replica as gone once the bucket's time of its last heartbeat is older
 * than `leaseMs`; the replica stops admitting writes by itself after half of that without a
 * renewal (counted from when the renewal was sent, before the server stamped it), so by the
 * time anyone may ignore it, it has admitted nothing new for half a lease — time for writes
 * already running to end.
 */
export class ReplicaLease {
  readonly #o: ReplicaLeaseOptions;
  /** performance.now() when the last successful renewal was sent; undefined: never, or lapsed. */
  #renewedAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #renewing: Promise<void> | undefined;
  #lapseLogged = false;

  constructor(options: ReplicaLeaseOptions) {
    this.#o = options;
  }

  /** True while the last renewal is younger than half the lease. */
  get fresh(): boolean {
    return (
      !this.#stopped &&
      this.#renewedAt !== undefined &&
      performance.now() - this.#renewedAt < this.#o.leaseMs / 2
    );
  }

  /** The first heartbeat (then the fences are read); throws when NATS does not answer. */
  async start(): Promise<void> {
    await this.#renew(true);
    this.#timer = setInterval(() => {
      this.#renewing ??= this.#renew(false).finally(() => {
        this.#renewing = undefined;
      });
    }, this.#o.heartbeatMs);
    this.#timer.unref();
  }

  async #renew(throwOnError: boolean): Promise<void> {
    const wasFresh = this.fresh;
    const sentAt = performance.now();
    const { replica, leaseMs } = this.#o;
    try {
      await this.#o.replicas.put(replicaKey(replica), {
        replica,
        host: hostname(),
        pid: process.pid,
        leaseMs,
      });
      // Lapsed before the renewal, or while it took: a coordinator may have passed this replica by.
      if (!wasFresh || !this.fresh) await this.#o.beforeFresh();
    } catch (err) {
      if (throwOnError) throw err;
      if (!this.fresh && !this.#lapseLogged) {
        this.#lapseLogged = true;
        this.#o.logger.warn(
          { err, replica },
          "write fence: heartbeat not renewed within half its lease; holding writes",
        );
      }
      return;
    }
    if (this.#stopped) return;
    const lapsed = !this.fresh;
    this.#renewedAt = sentAt;
    if (lapsed && this.#lapseLogged)
      this.#o.logger.info({ replica }, "write fence: heartbeat renewed; admitting writes");
    if (lapsed) this.#lapseLogged = false;
    this.#o.onRenewed(lapsed);
  }

  /** Stops renewing and deletes the heartbeat, so coordinators stop waiting for this replica. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#renewing;
    await this.#o.replicas.delete(replicaKey(this.#o.replica)).catch(() => {});
  }
}
