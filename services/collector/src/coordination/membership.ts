import { randomUUID } from "node:crypto";
import type { Logger } from "@dbplane/service-kit";
import type { Redis } from "ioredis";
import type { CollectorMetrics } from "../collector-metrics.ts";
import { type Assignment, shareOf } from "./assignment-summary.ts";
import type { CoordinationKeys } from "./coordination-keys.ts";
import { HEARTBEAT, LEAVE, RELEASE_LEASE, RENEW_LEASE } from "./coordination-scripts.ts";
import { runLeaderDuty } from "./leader-duty.ts";

export interface MembershipOptions {
  readonly redis: Redis;
  readonly keys: CoordinationKeys;
  readonly memberId: string;
  /** Where this member serves its API, for `GET /v1/members`. */
  readonly info: Readonly<Record<string, string | number>>;
  readonly heartbeatMs: number;
  readonly nodeTimeoutMs: number;
  readonly leaseMs: number;
  readonly metrics: CollectorMetrics;
  readonly logger: Logger;
  /** Called with the member's new share, or undefined when it must stop collecting (self-fenced). */
  readonly onAssignment: (assignment: Assignment | undefined) => void;
  /** Called when this member becomes leader (e.g. to reconcile static targets). */
  readonly onLeadership?: () => Promise<void>;
}

/**
 * This replica's place in the group: heartbeats, its share of the newest epoch, and — when it
 * holds the lease — the leader's duty. One tick every `heartbeatMs`, never overlapping.
 */
export class Membership {
  readonly #o: MembershipOptions;
  #assignment: Assignment | undefined;
  #knownEpoch = -1;
  #lastBeat = Date.now();
  #token: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: MembershipOptions) {
    this.#o = options;
  }

  get assignment(): Assignment | undefined {
    return this.#assignment;
  }

  get isLeader(): boolean {
    return this.#token !== undefined;
  }

  async start(): Promise<void> {
    await this.#o.redis.hset(this.#o.keys.memberInfo, this.#o.memberId, JSON.stringify(this.#o.info));
    await this.#tick();
    this.#schedule();
  }

  /** Leaves the group: stop ticking, release the lease, drop out of the members so targets move now. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking;
    const { redis, keys, memberId } = this.#o;
    if (this.#token) await RELEASE_LEASE.run(redis, [keys.leader], [this.#token]);
    this.#token = undefined;
    await LEAVE.run(redis, [keys.members, keys.memberInfo, keys.owned(memberId)], [memberId]);
    this.#setAssignment(undefined);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#ticking = this.#tick().finally(() => this.#schedule());
    }, this.#o.heartbeatMs);
  }

  async #tick(): Promise<void> {
    try {
      await this.#heartbeat();
      if (await this.#lead()) await this.#heartbeat();
    } catch (err) {
      this.#o.logger.warn({ err }, "coordination tick failed");
      // Self-fencing: silent this long, the leader has given our targets to others already.
      if (Date.now() - this.#lastBeat > this.#o.nodeTimeoutMs && this.#assignment) {
        this.#o.logger.error(
          { nodeTimeoutMs: this.#o.nodeTimeoutMs },
          "no heartbeat within the node timeout: stopping collection",
        );
        this.#knownEpoch = -1;
        this.#setAssignment(undefined);
      }
      if (this.#token && Date.now() - this.#lastBeat > this.#o.leaseMs) this.#token = undefined;
    }
  }

  async #heartbeat(): Promise<void> {
    const { redis, keys, memberId } = this.#o;
    const [, epoch, share] = (await HEARTBEAT.run(
      redis,
      [keys.members, keys.epoch, keys.owned(memberId)],
      [memberId, this.#knownEpoch],
    )) as [number, number, string | null];
    this.#lastBeat = Date.now();
    if (share === null || epoch === this.#knownEpoch) return;
    this.#knownEpoch = epoch;
    this.#setAssignment(shareOf(share, epoch));
  }

  /** Takes, keeps or loses the lease, and does the leader's duty; true when a new epoch was written. */
  async #lead(): Promise<boolean> {
    const { redis, keys, leaseMs, logger, memberId, metrics } = this.#o;
    if (this.#token) {
      const renewed = (await RENEW_LEASE.run(redis, [keys.leader], [this.#token, leaseMs])) === 1;
      if (!renewed) {
        logger.warn({ memberId }, "leader lease lost");
        this.#token = undefined;
      }
    } else {
      const token = `${memberId}/${randomUUID()}`;
      if ((await redis.set(keys.leader, token, "PX", leaseMs, "NX")) === "OK") {
        this.#token = token;
        logger.info({ memberId, leaseMs }, "became leader");
        await this.#o.onLeadership?.().catch((err) => logger.warn({ err }, "leadership hook failed"));
      }
    }
    metrics.leader.set(this.#token ? 1 : 0);
    if (!this.#token) return false;
    const outcome = await runLeaderDuty(
      { redis, keys, memberId, nodeTimeoutMs: this.#o.nodeTimeoutMs, logger },
      this.#token,
    );
    if (outcome.kind === "fenced") {
      logger.warn({ memberId }, "assignment write fenced: the lease passed to another member");
      this.#token = undefined;
      metrics.leader.set(0);
      return false;
    }
    if (outcome.kind !== "written") return false;
    const { epoch, leader, members, targets, moved } = outcome.summary;
    metrics.rebalances.inc();
    logger.info({ epoch, leader, members, targets, moved }, "assignment written");
    return true;
  }

  #setAssignment(assignment: Assignment | undefined): void {
    this.#assignment = assignment;
    this.#o.metrics.assignments.set(assignment?.targets.size ?? 0);
    if (assignment) this.#o.metrics.epoch.set(assignment.epoch);
    this.#o.onAssignment(assignment);
  }
}
