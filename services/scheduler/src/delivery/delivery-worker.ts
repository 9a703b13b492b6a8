import type { Logger } from "@dbplane/service-kit";
import { DeliveryFailure, describeAttempt, judgeAttempt, retryDelayMs } from "../domain/delivery-policy.ts";
import type { WebhookAllowList } from "../domain/webhook-allow-list.ts";
import type { SchedulerMetrics } from "../scheduler-metrics.ts";
import type { ClaimedDelivery, DeliveryFinish } from "../store/deliveries.ts";
import type { SchedulerStore } from "../store/scheduler-store.ts";
import type { DeliveryEvents } from "./delivery-events.ts";
import { type WebhookAgents, webhookAgents } from "./webhook-destination.ts";
import { safeUrl, webhookRequest } from "./webhook-request.ts";
import { sendWebhook } from "./webhook-sender.ts";

export interface DeliveryWorkerOptions {
  readonly store: SchedulerStore;
  readonly owner: string;
  readonly allowList: WebhookAllowList;
  /** Attempts in flight at once on this replica. */
  readonly concurrency: number;
  /** How often to look for due deliveries when nothing pokes the worker. */
  readonly pollMs: number;
  /** A running delivery's lease is its timeout plus this: then another replica takes it over. */
  readonly leaseMarginMs: number;
  /** Publishes `job.delivered` / `job.delivery-failed` when a delivery ends. */
  readonly events: DeliveryEvents;
  readonly metrics: SchedulerMetrics;
  readonly logger: Logger;
}

/**
 * Delivers http jobs' occurrences, apart from the firing path: the firing loop only records a
 * fired run and its pending delivery (one transaction), and this worker — one per replica, all
 * replicas alike — claims due deliveries, makes one attempt each, and records the attempt and
 * what follows (done, failed, or pending again after a backoff). A slow endpoint holds one of
 * `concurrency` slots here and nothing of the firing loop's.
 *
 * Logs name the job, the occurrence, the URL's origin and path, and the outcome; never a header
 * value, a query string or a body, which may carry credentials.
 */
export class DeliveryWorker {
  readonly #o: DeliveryWorkerOptions;
  readonly #log: Logger;
  readonly #agents: WebhookAgents;
  readonly #stop = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #claiming: Promise<void> | undefined;
  #again = false;

  constructor(options: DeliveryWorkerOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: "webhooks", owner: options.owner });
    this.#agents = webhookAgents(options.allowList);
  }

  start(): void {
    this.#schedule();
  }

  /** Looks for due deliveries now (this replica just queued some, or a slot came free). */
  poke(): void {
    if (this.#stop.signal.aborted) return;
    if (this.#claiming) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#claiming = this.#claim().finally(() => {
      this.#claiming = undefined;
      if (this.#again) {
        this.#again = false;
        this.poke();
      } else this.#schedule();
    });
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Stops claiming and aborts the attempts in flight: each is recorded as failed-to-retry, so
   * another replica takes it up at once instead of after its lease. The receiver may have seen
   * it — the Idempotency-Key lets it drop the repeat.
   */
  async stop(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#timer);
    await this.#claiming;
    await Promise.allSettled([...this.#inFlight]);
    await this.#agents.close();
  }

  #schedule(): void {
    if (this.#stop.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.poke(), this.#o.pollMs);
  }

  async #claim(): Promise<void> {
    const free = this.#o.concurrency - this.#inFlight.size;
    if (free <= 0) return;
    let claimed: ClaimedDelivery[];
    try {
      claimed = await this.#o.store.claimDeliveries(this.#o.owner, free, this.#o.leaseMarginMs);
    } catch (err) {
      this.#log.warn({ err }, "claiming webhook deliveries failed; retrying next round");
      return;
    }
    for (const d of claimed) {
      const run = this.#deliver(d)
        .catch((err: unknown) =>
          this.#log.error(
            { err, jobId: d.jobId, scheduledAt: d.scheduledAt },
            "webhook delivery failed to record",
          ),
        )
        .finally(() => {
          this.#inFlight.delete(run);
          this.poke();
        });
      this.#inFlight.add(run);
    }
    // A full batch suggests more are due: look again at once rather than after pollMs.
    if (claimed.length === free) this.#again = true;
  }

  async #deliver(d: ClaimedDelivery): Promise<void> {
    const claimedAt = Date.now();
    const dbNow = () => d.dbNow.getTime() + (Date.now() - claimedAt);
    const where = { jobId: d.jobId, scheduledAt: d.scheduledAt.toISOString(), attempt: d.attempt };
    if (d.previousLost) this.#log.warn(where, "previous webhook attempt lost with its replica; taking over");
    const key = { jobId: d.jobId, scheduledAt: d.scheduledAt, attempt: d.attempt };
    if (d.attempt > d.maxAttempts) {
      return this.#finish(
        {
          ...key,
          state: "failed",
          error: `no attempt left of maxAttempts (${d.maxAttempts})`,
          reason: DeliveryFailure.maxAttempts,
        },
        dbNow(),
      );
    }
    if (dbNow() >= d.deliverBy.getTime()) {
      return this.#finish(
        {
          ...key,
          state: "failed",
          error: "later than maxLatenessMs: no attempt started",
          reason: DeliveryFailure.tooLate,
        },
        dbNow(),
      );
    }
    const request = webhookRequest(d.jobId, d.target, d.scheduledAt);
    const sent = await sendWebhook(request, {
      allowList: this.#o.allowList,
      agents: this.#agents,
      timeoutMs: d.target.timeoutMs,
      stop: this.#stop.signal,
    });
    const { outcome, verdict } = judgeAttempt(sent.result);
    const error = describeAttempt(sent.result, d.target.timeoutMs);
    this.#o.metrics.webhookAttempts.inc({ outcome });
    this.#o.metrics.webhookAttemptDuration.observe({ outcome }, sent.durationMs / 1000);
    const result = {
      outcome,
      statusCode: sent.result.kind === "response" ? sent.result.status : null,
      durationMs: sent.durationMs,
      error,
    };
    const log = {
      ...where,
      url: safeUrl(request.url),
      outcome,
      status: result.statusCode,
      durationMs: Math.round(sent.durationMs),
    };
    if (verdict !== "retry") {
      this.#log[verdict === "succeeded" ? "debug" : "warn"]({ ...log, error }, `webhook ${verdict}`);
      const reason = sent.result.kind === "refused" ? DeliveryFailure.refused : DeliveryFailure.rejected;
      return this.#finish(
        verdict === "failed"
          ? { ...key, state: verdict, result, reason }
          : { ...key, state: verdict, result },
        dbNow(),
      );
    }
    const retryInMs = this.#stop.signal.aborted ? 0 : retryDelayMs(d.attempt);
    const lastAttempt = d.attempt >= d.maxAttempts;
    const tooLate = dbNow() + retryInMs >= d.deliverBy.getTime();
    if (lastAttempt || tooLate) {
      const why = lastAttempt
        ? `maxAttempts (${d.maxAttempts}) reached`
        : "the next attempt would be later than maxLatenessMs";
      this.#log.warn({ ...log, error }, `webhook failed: ${why}`);
      return this.#finish(
        {
          ...key,
          state: "failed",
          result: { ...result, error: `${error}; ${why}` },
          reason: lastAttempt ? DeliveryFailure.maxAttempts : DeliveryFailure.tooLate,
        },
        dbNow(),
      );
    }
    this.#log.info({ ...log, error, retryInMs }, "webhook attempt failed; retrying");
    return this.#finish({ ...key, state: "pending", retryInMs, result }, dbNow());
  }

  async #finish(f: DeliveryFinish, dbNow: number): Promise<void> {
    const recorded = await this.#o.store.finishDelivery(this.#o.owner, f);
    if (!recorded) {
      this.#log.warn(
        { jobId: f.jobId, attempt: f.attempt },
        "webhook attempt not recorded: its lease ran out and another replica took it",
      );
      return;
    }
    if (f.state === "pending") return;
    this.#o.metrics.webhookDeliveries.inc({ state: f.state });
    this.#o.metrics.webhookDeliverySeconds.observe(
      { state: f.state },
      Math.max(0, dbNow - f.scheduledAt.getTime()) / 1000,
    );
    await this.#o.events.ended(f.jobId, f.scheduledAt);
  }
}
