import { type Bus, ConcurrencyLimit } from "@dbplane/bus";
import { jobFired, jobMissed } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";

/** What a `job.fired` event says of one occurrence. */
export interface FiredEventData {
  readonly jobId: string;
  readonly scheduledAt: Date;
  readonly firedAt: Date;
  readonly targetSubject?: string;
  readonly messageSeq?: number;
  readonly targetUrl?: string;
}

/** Events publishes in flight at once; they never hold up firing. */
const EVENT_CONCURRENCY = 128;

/**
 * Emits `job.fired` and `job.missed`. Ids derive from the occurrence (`fired:<jobId>:<at>`,
 * `missed:<jobId>:<at>`), so a replica that re-fires after a crash emits a duplicate JetStream
 * absorbs; the CloudEvents subject is the job id (per-job ordering and partitioning).
 */
export class FiringEvents {
  readonly #bus: Bus;
  readonly #logger: Logger;
  readonly #limit = new ConcurrencyLimit(EVENT_CONCURRENCY);
  #queued: (() => Promise<unknown>)[] = [];
  #flush: Promise<void> | undefined;

  constructor(bus: Bus, logger: Logger) {
    this.#bus = bus;
    this.#logger = logger;
  }

  fired(data: FiredEventData): void {
    const scheduledAt = data.scheduledAt.toISOString();
    this.#emit(() =>
      this.#bus.publish(
        jobFired,
        {
          jobId: data.jobId,
          scheduledAt,
          firedAt: data.firedAt.toISOString(),
          lateMs: Math.max(0, Math.round(data.firedAt.getTime() - data.scheduledAt.getTime())),
          targetSubject: data.targetSubject,
          messageSeq: data.messageSeq,
          targetUrl: data.targetUrl,
        },
        { subject: data.jobId, id: `fired:${data.jobId}:${scheduledAt}` },
      ),
    );
  }

  missed(jobId: string, scheduledAt: Date, reason: string): void {
    const at = scheduledAt.toISOString();
    this.#emit(() =>
      this.#bus.publish(
        jobMissed,
        { jobId, scheduledAt: at, reason },
        { subject: jobId, id: `missed:${jobId}:${at}` },
      ),
    );
  }

  /** Resolves when every event handed over so far is published (or has failed). */
  async idle(): Promise<void> {
    await this.#flush;
    await this.#limit.idle();
  }

  /**
   * Events wait for the end of the current turn of the event loop and are then all started
   * together, so the acks of one socket read turn into one write of events, not one each.
   */
  #emit(publish: () => Promise<unknown>): void {
    this.#queued.push(publish);
    this.#flush ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        const batch = this.#queued;
        this.#queued = [];
        this.#flush = undefined;
        for (const p of batch) {
          void this.#limit
            .run(p)
            .catch((err: unknown) => this.#logger.error({ err }, "scheduler event not published"));
        }
        resolve();
      }),
    );
  }
}
