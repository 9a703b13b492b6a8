import type { JobDefinition } from "../domain/job-definition.ts";
import { checkSchedulable, parseJobDefinition } from "../domain/job-validation.ts";
import type { StoredJob } from "../store/job-rows.ts";
import type { UpsertResult } from "../store/job-upsert.ts";
import type { SchedulerStore } from "../store/scheduler-store.ts";
import type { TargetCheck } from "./target-check.ts";

/**
 * What the HTTP API and the `schedule-job`/`cancel-job` commands do to jobs, in one place: the
 * same validation (domain definition, then the target's stream), the same store calls, and the
 * local firing loop told to drop its timers of a job that changed — other replicas notice at
 * their next lease renewal, because every such change clears the claim.
 */
export interface JobAdmin {
  /** @throws JobValidationError naming the fields. */
  upsert(input: unknown): Promise<UpsertResult>;
  cancel(id: string): Promise<StoredJob | null>;
  pause(id: string): Promise<StoredJob | null>;
  resume(id: string): Promise<StoredJob | null>;
  trigger(id: string): Promise<{ job: StoredJob; scheduledAt: Date } | null>;
}

export function createJobAdmin(deps: {
  store: SchedulerStore;
  checkTarget: TargetCheck;
  forget: (jobId: string) => void;
}): JobAdmin {
  const { store, checkTarget, forget } = deps;
  const changed = <T extends StoredJob | null>(job: T): T => {
    if (job) forget(job.id);
    return job;
  };
  return {
    async upsert(input) {
      const job: JobDefinition = parseJobDefinition(input);
      // Fail fast on a one-shot obviously in the past before the stream lookup; the store
      // repeats the check on the database's clock, which is the one that counts.
      checkSchedulable(job, new Date(Date.now() - 5_000));
      await checkTarget(job);
      const result = await store.upsert(job);
      if (result.outcome === "updated") forget(job.id);
      return result;
    },
    cancel: async (id) => changed(await store.cancel(id)),
    pause: async (id) => changed(await store.pause(id)),
    resume: (id) => store.resume(id),
    trigger: (id) => store.trigger(id),
  };
}
