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
/** While the firing path is busy, queued events wait at most this long, looking again this often. */
export const EVENT_HOLD_MAX_MS = 2_000;
const EVENT_HOLD_POLL_MS = 20;

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
  #busy: () => boolean = () => false;

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

  /**
   * While `busy()` is true (a burst's target publishes in flight), queued events wait — up to
   * `EVENT_HOLD_MAX_MS` — so they do not compete with the targets for the connection, the
   * event loop and the NATS server; they go out when it quiets down.
   */
  holdWhile(busy: () => boolean): void {
    this.#busy = busy;
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
    this.#flush ??= new Promise<void>((resolve) => {
      const since = Date.now();
      const start = () => {
        if (this.#busy() && Date.now() - since < EVENT_HOLD_MAX_MS) {
          setTimeout(start, EVENT_HOLD_POLL_MS);
          return;
        }
        const batch = this.#queued;
        this.#queued = [];
        this.#flush = undefined;
        for (const p of batch) {
          void this.#limit
            .run(p)
            .catch((err: unknown) => this.#logger.error({ err }, "scheduler event not published"));
        }
        resolve();
      };
      setImmediate(start);
    });
  }
}
