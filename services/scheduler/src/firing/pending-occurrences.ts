import type { JobDefinition } from "../domain/job-definition.ts";
import { occurrenceMessageId } from "../domain/message-id.ts";
import type { DueOccurrence } from "../store/job-progress.ts";
import { type JobOwner, NO_OWNER } from "../store/job-rows.ts";
import type { PreparedTarget } from "./target-message.ts";

/** One occurrence this replica holds: armed, being published, or awaiting its run record. */
export interface PendingOccurrence {
  readonly jobId: string;
  readonly definition: JobDefinition;
  /** The job's version `definition` belongs to (0: unknown, read again when recorded). */
  readonly version: number;
  /** Who saved the job, with the scopes they held then. */
  readonly owner: JobOwner;
  readonly occ: DueOccurrence;
  /** The `DueTimers` bucket it is armed in; undefined once fired (or not yet armed). */
  timerKey: number | undefined;
  /** Its id in the firing thread, while the thread holds it (see `FiringThread`). */
  threadId?: number | undefined;
  publishing: boolean;
  dropped: boolean;
  /** Its target message, built when armed (`createFiringLoop`'s prepare); dropped once sent. */
  prepared?: PreparedTarget | undefined;
}

/**
 * The occurrences a replica holds, keyed by message id, so the same occurrence handed out again
 * (a claim and a completion's `continuing` overlap, a trigger repeats until recorded) is armed
 * once. Entries leave when their run is recorded, and the claim expiry of each job is kept
 * here so a publish can check it is still within the lease.
 */
export class PendingOccurrences {
  readonly #byId = new Map<string, PendingOccurrence>();
  readonly #byJob = new Map<string, Set<string>>();
  readonly #expiry = new Map<string, number>();
  readonly #disarm: (p: PendingOccurrence) => void;

  /** `disarm` cancels the timer (or the firing thread's hold) of an occurrence that leaves. */
  constructor(disarm: (p: PendingOccurrence) => void) {
    this.#disarm = disarm;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Adds an occurrence; null when it is already held. */
  add(
    jobId: string,
    definition: JobDefinition,
    occ: DueOccurrence,
    owner: JobOwner = NO_OWNER,
    version = 0,
  ): PendingOccurrence | null {
    if (this.#byId.has(occ.messageId)) return null;
    const p: PendingOccurrence = {
      jobId,
      definition,
      version,
      owner,
      occ,
      timerKey: undefined,
      publishing: false,
      dropped: false,
    };
    this.#byId.set(occ.messageId, p);
    const ids = this.#byJob.get(jobId) ?? new Set<string>();
    ids.add(occ.messageId);
    this.#byJob.set(jobId, ids);
    return p;
  }

  /** The occurrence's run was recorded (or refused): forget it. */
  settle(jobId: string, scheduledAt: Date): void {
    this.#remove(occurrenceMessageId(jobId, scheduledAt));
  }

  /** The job's claim lasts until `expiry` (database ms). */
  holdUntil(jobId: string, expiry: number): void {
    this.#expiry.set(jobId, expiry);
  }

  /** The job's claim expiry (database ms); 0 when not held. */
  expiryOf(jobId: string): number {
    return this.#expiry.get(jobId) ?? 0;
  }

  jobIds(): string[] {
    return [...this.#byJob.keys()];
  }

  /** Drops every occurrence of the job (claim lost or job changed); returns how many. */
  drop(jobId: string): number {
    const ids = [...(this.#byJob.get(jobId) ?? [])];
    for (const id of ids) this.#remove(id);
    this.#expiry.delete(jobId);
    return ids.length;
  }

  /** Drops occurrences whose timer has not fired yet (shutdown); returns how many. */
  dropUnstarted(): number {
    let n = 0;
    for (const [id, p] of this.#byId) {
      if (p.publishing) continue;
      this.#remove(id);
      n++;
    }
    return n;
  }

  #remove(messageId: string): void {
    const p = this.#byId.get(messageId);
    if (!p) return;
    if (p.timerKey !== undefined || p.threadId !== undefined) this.#disarm(p);
    p.dropped = true;
    this.#byId.delete(messageId);
    const ids = this.#byJob.get(p.jobId);
    ids?.delete(messageId);
    if (ids?.size === 0) {
      this.#byJob.delete(p.jobId);
      this.#expiry.delete(p.jobId);
    }
  }
}
