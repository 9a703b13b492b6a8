import { ConcurrencyLimit } from "@dbplane/bus";
import type { Logger } from "@dbplane/service-kit";
import { safeUrl } from "../delivery/webhook-request.ts";
import type { HttpTarget } from "../domain/job-definition.ts";
import { TargetKind } from "../domain/limits.ts";
import { firesWhenLate } from "../domain/misfire.ts";
import type { TargetNamespace } from "../domain/target-namespace.ts";
import { ownerTargetProblem } from "../domain/target-privilege.ts";
import type { SchedulerMetrics } from "../scheduler-metrics.ts";
import type { KnownDefinition } from "../store/claims.ts";
import type { ClaimedJob, DueOccurrence, MissedOccurrences } from "../store/job-progress.ts";
import type { SchedulerStore } from "../store/scheduler-store.ts";
import { ClaimLoop } from "./claim-loop.ts";
import { CompletionBatcher } from "./completion-batcher.ts";
import { DbClock } from "./db-clock.ts";
import { DueTimers } from "./due-timers.ts";
import type { FiringEvents } from "./firing-events.ts";
import type { FiringThread, ThreadResult } from "./firing-thread-client.ts";
import { LapsedClaims } from "./lapsed-claims.ts";
import { LeaseRenewal } from "./lease-renewal.ts";
import { type PendingOccurrence, PendingOccurrences } from "./pending-occurrences.ts";
import {
  buildsAhead,
  headerBytes,
  type PreparedTarget,
  type TargetMessage,
  targetMessage,
} from "./target-message.ts";
import {
  describeError,
  type PublishOutcome,
  publishTarget,
  RETRY_PAUSE_MS,
  type TargetPublisher,
} from "./target-publisher.ts";

/** A NATS occurrence's message, built, or why it may not be sent (and its subject as saved). */
type BuiltTarget =
  | { readonly message: TargetMessage }
  | { readonly refusal: string; readonly subject: string };

/** Target publishes in flight or waiting above which the firing path counts as busy. */
const BUSY_PUBLISHES = 1_000;
/** A long loop of ours (arming a claim, settling a batch) looks for due occurrences this often. */
const CHECK_EVERY = 64;

export interface FiringLoopOptions {
  readonly store: SchedulerStore;
  /** Target messages: encoded when armed, published when due (the bus). */
  readonly publisher: TargetPublisher;
  readonly events: FiringEvents;
  /** This installation's namespace: target subjects are published inside it. */
  readonly namespace: TargetNamespace;
  /** This replica's claim owner name; unique per process. */
  readonly owner: string;
  readonly tickMs: number;
  readonly horizonMs: number;
  readonly leaseMs: number;
  readonly claimLimit: number;
  readonly publishConcurrency: number;
  readonly metrics: SchedulerMetrics;
  readonly logger: Logger;
  /** Called after runs of http jobs were recorded with their deliveries (to wake the delivery worker). */
  readonly onDeliveriesQueued?: () => void;
  /**
   * Where NATS occurrences whose message is built ahead are held and published (see
   * `FiringThread`); without one, this thread's own timers do it. Webhook hand-overs, CloudEvent
   * targets (built when they fire) and refusals stay here either way.
   */
  readonly thread?: FiringThread | undefined;
}

export interface FiringStages {
  /** Held occurrences, whatever their stage (until their run is recorded). */
  readonly held: number;
  /** Distinct due milliseconds with a timer set. */
  readonly timerBuckets: number;
  readonly publishWaiting: number;
  readonly publishInFlight: number;
  /** Settled, waiting for their run record to be written. */
  readonly unrecorded: number;
}

export interface FiringLoop {
  start(): void;
  /** Drops this replica's timers of a job (it changed through this replica's API). */
  forget(jobId: string): void;
  /** Occurrences armed or being published. */
  pending(): number;
  /** Where this replica's held occurrences are, for the metrics. */
  stages(): FiringStages;
  /** The database time of the last completed claim round, and the database clock's offset. */
  tick(): { lastTickAt: Date | null; clockOffsetMs: number };
  /** Stops claiming, lets publishes in flight finish and be recorded, releases the claims. */
  stop(): Promise<void>;
}

/**
 * The firing side of a replica. There is no leader: every replica claims what is due within
 * the horizon every tick (`FOR UPDATE SKIP LOCKED`, so claims are disjoint), arms a timer per
 * occurrence at its due time on the database's clock, publishes the target with the occurrence
 * id as `Nats-Msg-Id`, and records the runs in batches. Claims are renewed while held; a replica
 * that dies leaves its claims to expire, after which another replica re-fires the same
 * occurrence ids — deduplicated by the target stream, since the lease is shorter than its
 * duplicate window.
 */
export function createFiringLoop(o: FiringLoopOptions): FiringLoop {
  const log = o.logger.child({ component: "firing", owner: o.owner });
  const clock = new DbClock();
  const timers = new DueTimers<PendingOccurrence>((due) => {
    // Everything due by now is started here, in one go: its publishes share a write.
    // (Slicing a 25,000-occurrence burst into setImmediate slices of 2,000–8,000, to serve acks
    // and HTTP in between, cut the burst rate from ~30,000 to 17,500–19,600 jobs/s.)
    for (const p of due) fire(p);
  });
  const pending = new PendingOccurrences((p) => {
    if (p.timerKey !== undefined) timers.cancel(p.timerKey, p);
    p.timerKey = undefined;
    if (p.threadId !== undefined) o.thread?.cancel(p.threadId);
  });
  /** Occurrences handed to the firing thread, by their id there, until its result comes back. */
  const inThread = new Map<number, { p: PendingOccurrence; subject: string }>();
  /**
   * Called at every item of a long loop: every CHECK_EVERY items, what came due meanwhile is
   * started and written to NATS at once, not when the loop's task ends (arming a claim of 2,000
   * held the event loop 20–65 ms on a slow machine, and the occurrences due then waited for it).
   */
  function checkpoint(i: number): void {
    if (i % CHECK_EVERY !== CHECK_EVERY - 1) return;
    o.thread?.flush();
    if (timers.fireDue()) o.publisher.flushRaw();
  }
  const publishes = new ConcurrencyLimit(o.publishConcurrency);
  const threadPublishes = () => (o.thread ? o.thread.stages.inFlight + o.thread.stages.waiting : 0);
  // A burst's job.fired events wait for its target publishes (at 5,000 firings a second a
  // replica has a few dozen in flight; a burst, thousands).
  o.events.holdWhile(() => publishes.size + threadPublishes() > BUSY_PUBLISHES);
  // Never start a publish this close to the lease's end: its ack must land while we hold the claim.
  const leaseSafetyMs = Math.min(1_000, Math.floor(o.leaseMs / 10));
  let stopping = false;
  const lapsed = new LapsedClaims(log);

  const completions = new CompletionBatcher({
    store: o.store,
    owner: o.owner,
    horizonMs: o.horizonMs,
    leaseMs: o.leaseMs,
    logger: log,
    onCompleted(result, batch) {
      // result.dbNow is its transaction's start, long before the answer: not a clock sample.
      for (const [i, r] of batch.entries()) {
        pending.settle(r.jobId, r.scheduledAt);
        checkpoint(i);
      }
      for (const outcome of result.outcomes) {
        if (!outcome.accepted && !outcome.recorded)
          log.debug({ jobId: outcome.jobId }, "run not recorded: claim lost meanwhile");
      }
      armAll(result.continuing);
      reportMissed(result.missed);
      if (batch.some((r) => r.outcome === "fired" && r.delivery)) o.onDeliveriesQueued?.();
      // `job.fired` leaves once its run is recorded, off the path between a publish and its
      // ack: a batch's events go out together after the transaction, not one per ack while
      // firing (they were two JetStream publishes per firing, interleaved).
      for (const [i, r] of batch.entries()) {
        if (r.fired) o.events.fired(r.fired);
        checkpoint(i);
      }
    },
  });

  function reportMissed(missed: readonly MissedOccurrences[]): void {
    for (const m of missed) {
      o.metrics.missed.inc(m.total);
      for (const at of m.occurrences) o.events.missed(m.jobId, at, "later than maxLatenessMs");
    }
  }

  function armAll(jobs: readonly ClaimedJob[]): void {
    if (stopping) return;
    for (const [i, job] of jobs.entries()) {
      pending.holdUntil(job.id, job.claimExpiresAt.getTime());
      for (const occ of [job.next, job.trigger]) if (occ) arm(job, occ);
      checkpoint(i);
    }
  }

  function arm(job: ClaimedJob, occ: DueOccurrence): void {
    const p = pending.add(job.id, job.definition, occ, job.owner, job.version);
    if (!p) return;
    o.metrics.claimLead.observe({ manual: String(occ.manual) }, clock.until(occ.scheduledAt) / 1000);
    const target = targetOf(p, true);
    if (o.thread && target && "message" in target) {
      handToThread(o.thread, p, target.message);
      return;
    }
    p.prepared = target && encoded(target);
    schedule(p);
  }

  /** Hands a NATS occurrence, its message built, to the firing thread, which publishes it when due. */
  function handToThread(thread: FiringThread, p: PendingOccurrence, m: TargetMessage): void {
    const fireBy = firesWhenLate(p.definition) ? Number.POSITIVE_INFINITY : p.occ.fireBy.getTime();
    const id = thread.nextId();
    p.threadId = id;
    // Its publish may start any time from now on: a shutdown must not drop it as unstarted.
    p.publishing = true;
    inThread.set(id, { p, subject: m.subject });
    thread.arm({
      id,
      dueAt: p.occ.scheduledAt.getTime(),
      deadline: Math.min(fireBy, pending.expiryOf(p.jobId) - leaseSafetyMs),
      subject: m.subject,
      payload: m.payload,
      headers: headerBytes(m.headers),
    });
  }

  /** What became of an occurrence in the firing thread: settled here as a publish of our own. */
  function threadResult(r: ThreadResult): void {
    const entry = inThread.get(r.id);
    if (!entry) return;
    inThread.delete(r.id);
    const { p, subject } = entry;
    p.threadId = undefined;
    if (r.kind === "cancelled") return;
    const toDb = clock.now() - Date.now();
    if (r.startedAt !== undefined)
      o.metrics.timerLateness.observe(
        { manual: String(p.occ.manual) },
        (r.startedAt + toDb - p.occ.scheduledAt.getTime()) / 1000,
      );
    switch (r.kind) {
      case "acked":
        settle(
          p,
          subject,
          { kind: "acked", ack: { stream: "", seq: r.seq ?? 0, duplicate: r.duplicate ?? false } },
          r.at + toDb,
        );
        return;
      case "refused":
        o.metrics.publishFailures.inc({ kind: "permanent" });
        settle(p, subject, { kind: "refused", error: new Error(r.error) });
        return;
      case "late":
        settle(p, subject, { kind: "deadline", lastError: undefined });
        return;
      case "failed": {
        // The thread makes one attempt; the retries are made here, through the bus.
        o.metrics.publishFailures.inc({ kind: "transient" });
        // Taken as a publish of this thread's at once, so that a shutdown waits for it.
        void publishes
          .run(async () => {
            await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS[0]));
            if (!p.dropped) await publish(p);
          })
          .catch((err: unknown) => log.error({ err, msgId: p.occ.messageId }, "firing failed"));
        return;
      }
    }
  }

  function schedule(p: PendingOccurrence): void {
    p.timerKey = timers.add(Date.now() + clock.until(p.occ.scheduledAt), p);
  }

  function fire(p: PendingOccurrence): void {
    p.timerKey = undefined;
    if (stopping || p.dropped) return;
    // The clock estimate can move between arming and firing; never publish early.
    if (clock.until(p.occ.scheduledAt) > 0) {
      schedule(p);
      return;
    }
    p.publishing = true;
    o.metrics.timerLateness.observe({ manual: String(p.occ.manual) }, -clock.until(p.occ.scheduledAt) / 1000);
    if (p.definition.target.kind === TargetKind.http) {
      handOver(p, p.definition.target);
      return;
    }
    void publishes
      .run(() => publish(p))
      .catch((err: unknown) => log.error({ err, msgId: p.occ.messageId }, "firing failed"));
  }

  /**
   * An http job's occurrence is not delivered here: it is recorded fired, and its delivery
   * queued in the same transaction, for the delivery workers. Nothing on this path waits on
   * the endpoint, so a slow one delays no other occurrence.
   */
  function handOver(p: PendingOccurrence, target: HttpTarget): void {
    const { occ, jobId } = p;
    const base = { jobId, scheduledAt: occ.scheduledAt, manual: occ.manual, known: knownOf(p) };
    const now = clock.now();
    if (!firesWhenLate(p.definition) && now > occ.fireBy.getTime()) {
      o.metrics.missed.inc();
      completions.add({ ...base, outcome: "missed", error: "later than maxLatenessMs" });
      o.events.missed(jobId, occ.scheduledAt, "later than maxLatenessMs");
      return;
    }
    const firedAt = new Date(Math.max(now, occ.scheduledAt.getTime()));
    o.metrics.firingLag.observe(
      { manual: String(occ.manual) },
      (firedAt.getTime() - occ.scheduledAt.getTime()) / 1000,
    );
    o.metrics.fired.inc({ manual: String(occ.manual) });
    completions.add({
      ...base,
      outcome: "fired",
      firedAt,
      delivery: true,
      fired: { jobId, scheduledAt: occ.scheduledAt, firedAt, targetUrl: safeUrl(target.url) },
    });
  }

  /**
   * The target message of a NATS occurrence, or why it may not be sent. Built when the
   * occurrence is armed (up to the horizon before it is due) so that firing only sends it; a
   * CloudEvent target is built when it fires (its `time` is the firing's).
   */
  function targetOf(p: PendingOccurrence, ahead = false): BuiltTarget | undefined {
    const target = p.definition.target;
    if (target.kind !== TargetKind.nats) return undefined;
    // Checked at every firing, not only when saved: a job saved before owners were recorded or
    // before subjects were namespaced, or written to the table by other means, must not speak
    // for the platform, for another service or into another installation.
    const subject = o.namespace.resolve(target.subject);
    if ("problem" in subject)
      return { refusal: `the target subject ${subject.problem}`, subject: target.subject };
    const refusal = ownerTargetProblem({ kind: target.kind, subject: subject.logical }, p.owner);
    if (refusal !== null) return { refusal, subject: target.subject };
    if (ahead && !buildsAhead(subject)) return undefined;
    return { message: targetMessage(p.jobId, target, subject, p.occ.scheduledAt, p.occ.messageId) };
  }

  /** A target from `targetOf` as this thread publishes it: encoded for the bus, or its refusal. */
  function encoded(target: BuiltTarget): PreparedTarget {
    if ("refusal" in target) return target;
    const m = target.message;
    return { message: o.publisher.encodeRaw(m.subject, m.payload, m.headers) };
  }

  async function publish(p: PendingOccurrence): Promise<void> {
    const { occ, jobId } = p;
    const target = p.prepared ? undefined : targetOf(p);
    const prepared = p.prepared ?? (target && encoded(target));
    p.prepared = undefined;
    if (prepared === undefined) return;
    // Late by more than maxLatenessMs because this replica was slow (event loop, NATS) is a
    // misfire like an outage: under `skip` the occurrence is missed, under `once`/`all` it fires late.
    const fireBy = firesWhenLate(p.definition) ? Number.POSITIVE_INFINITY : occ.fireBy.getTime();
    const localDeadline = () =>
      Math.min(fireBy, pending.expiryOf(jobId) - leaseSafetyMs) - (clock.now() - Date.now());
    const base = { jobId, scheduledAt: occ.scheduledAt, manual: occ.manual, known: knownOf(p) };
    if ("refusal" in prepared) {
      log.warn({ jobId, msgId: occ.messageId, subject: prepared.subject }, prepared.refusal);
      o.metrics.publishFailures.inc({ kind: "permanent" });
      completions.add({ ...base, outcome: "failed", error: `not published: ${prepared.refusal}` });
      return;
    }
    const { message } = prepared;
    const outcome = await publishTarget(o.publisher, message, localDeadline, (transient) =>
      o.metrics.publishFailures.inc({ kind: transient ? "transient" : "permanent" }),
    );
    settle(p, message.subject, outcome);
  }

  /** Records a publish's outcome (`ackedAt`: when its ack arrived, on the database's clock). */
  function settle(
    p: PendingOccurrence,
    subject: string,
    outcome: PublishOutcome,
    ackedAt = clock.now(),
  ): void {
    const { occ, jobId } = p;
    const fireBy = firesWhenLate(p.definition) ? Number.POSITIVE_INFINITY : occ.fireBy.getTime();
    const base = { jobId, scheduledAt: occ.scheduledAt, manual: occ.manual, known: knownOf(p) };
    if (outcome.kind === "acked") {
      const firedAt = new Date(Math.max(ackedAt, occ.scheduledAt.getTime()));
      const lateSeconds = (firedAt.getTime() - occ.scheduledAt.getTime()) / 1000;
      o.metrics.firingLag.observe({ manual: String(occ.manual) }, lateSeconds);
      o.metrics.fired.inc({ manual: String(occ.manual) });
      if (outcome.ack.duplicate) o.metrics.deduplicated.inc();
      completions.add({
        ...base,
        outcome: "fired",
        firedAt,
        streamSeq: outcome.ack.seq,
        fired: {
          jobId,
          scheduledAt: occ.scheduledAt,
          firedAt,
          targetSubject: subject,
          messageSeq: outcome.ack.seq,
        },
      });
      return;
    }
    if (outcome.kind === "refused") {
      log.warn({ err: outcome.error, jobId, msgId: occ.messageId }, "target publish refused");
      completions.add({ ...base, outcome: "failed", error: describeError(outcome.error) });
      return;
    }
    if (clock.now() > fireBy) {
      // Past fireBy: a run with no attempt made is missed; one whose attempts failed, failed.
      const failed = outcome.lastError !== undefined;
      if (!failed) o.metrics.missed.inc();
      const error = failed ? describeError(outcome.lastError) : "later than maxLatenessMs";
      completions.add({ ...base, outcome: failed ? "failed" : "missed", error });
      if (!failed) o.events.missed(jobId, occ.scheduledAt, error);
      return;
    }
    // The lease ran out first (PostgreSQL unreachable for renewals): the claim is no longer
    // ours to act on. Whoever claims the job next fires the same id, deduplicated if we got through.
    lapsed.add(jobId);
    pending.drop(jobId);
  }

  /** The definition the occurrence was armed with: its completion need not read it again. */
  function knownOf(p: PendingOccurrence): KnownDefinition | undefined {
    return p.version > 0 ? { version: p.version, definition: p.definition } : undefined;
  }

  const claims = new ClaimLoop({
    ...o,
    logger: log,
    clock,
    onClaimed(result) {
      o.thread?.setOffset(clock.offsetMs);
      armAll(result.jobs);
      reportMissed(result.missed);
    },
  });
  const renewals = new LeaseRenewal({ ...o, logger: log, clock, pending });
  o.thread?.onResult(threadResult);

  return {
    start() {
      claims.start();
      renewals.start();
      log.info({ tickMs: o.tickMs, horizonMs: o.horizonMs, leaseMs: o.leaseMs }, "firing started");
    },
    forget(jobId) {
      pending.drop(jobId);
    },
    pending: () => pending.size,
    stages: () => {
      const thread = o.thread?.stages ?? { timerBuckets: 0, waiting: 0, inFlight: 0 };
      return {
        held: pending.size,
        timerBuckets: timers.buckets + thread.timerBuckets,
        publishWaiting: publishes.waiting + thread.waiting,
        publishInFlight: publishes.size - publishes.waiting + thread.inFlight,
        unrecorded: completions.pending,
      };
    },
    tick: () => ({ lastTickAt: claims.lastTickAt, clockOffsetMs: clock.offsetMs }),
    async stop() {
      stopping = true;
      await Promise.all([claims.stop(), renewals.stop()]);
      // The thread's publishes started are awaited there and their results settled here first.
      const unstarted = (await o.thread?.stop()) ?? [];
      for (const id of unstarted) {
        const entry = inThread.get(id);
        inThread.delete(id);
        if (entry) pending.settle(entry.p.jobId, entry.p.occ.scheduledAt);
      }
      const unfired = pending.dropUnstarted() + unstarted.length;
      await publishes.idle();
      await completions.drain();
      await o.events.idle();
      lapsed.flush();
      const released = await o.store.releaseClaims(o.owner);
      log.info({ unfired, released }, "firing stopped; claims released");
    },
  };
}
