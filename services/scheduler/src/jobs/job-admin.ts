import { ForbiddenError, grants, Scope } from "@dbplane/service-kit";
import type { JobDefinition } from "../domain/job-definition.ts";
import { checkSchedulable, JobValidationError, parseJobDefinition } from "../domain/job-validation.ts";
import { TargetKind } from "../domain/limits.ts";
import type { TargetNamespace } from "../domain/target-namespace.ts";
import { ownerTargetProblem, type TargetOfOwner } from "../domain/target-privilege.ts";
import type { JobOwner, StoredJob } from "../store/job-rows.ts";
import type { UpsertResult } from "../store/job-upsert.ts";
import type { SchedulerStore } from "../store/scheduler-store.ts";
import type { TargetCheck } from "./target-check.ts";

/**
 * What the HTTP API and the `schedule-job`/`cancel-job` commands do to jobs, in one place: the
 * same validation (domain definition, the caller's scope for the target, then the target's
 * stream), the same store calls, and the local firing loop told to drop its timers of a job that
 * changed — other replicas notice at their next lease renewal, because every such change clears
 * the claim.
 *
 * `caller` is who asks, with the scopes they hold: a job whose target is a dbplane command or
 * event may be saved, replaced, cancelled, paused, resumed or triggered only by a caller holding
 * `admin` (ForbiddenError otherwise), and the saver is recorded as the job's owner. A service
 * scheduling over NATS (`service:dbplane/<service>`) holds no scope: it may have only targets it
 * may publish itself. An owner without `admin` may have at most `maxJobsPerOwner` live jobs.
 * Subjects are judged without the installation's namespace (see `targetNamespace`).
 */
export interface JobAdmin {
  /**
   * @throws JobValidationError naming the fields; ForbiddenError; JobQuotaError when the caller
   * has as many live jobs as one owner may.
   */
  upsert(input: unknown, caller: JobOwner): Promise<UpsertResult>;
  /**
   * Up to 1,000 jobs as one transaction, each checked as `upsert` checks one: all saved or none.
   * @throws JobValidationError naming `jobs.<index>.<field>`; ForbiddenError naming the job;
   * JobQuotaError when the batch would leave the caller more live jobs than one owner may have.
   */
  upsertMany(inputs: readonly unknown[], caller: JobOwner): Promise<UpsertResult[]>;
  cancel(id: string, caller: JobOwner): Promise<StoredJob | null>;
  pause(id: string, caller: JobOwner): Promise<StoredJob | null>;
  resume(id: string, caller: JobOwner): Promise<StoredJob | null>;
  trigger(id: string, caller: JobOwner): Promise<{ job: StoredJob; scheduledAt: Date } | null>;
}

/** Runs a check of the batch's job `index`, naming its fields `jobs.<index>.<field>`. */
function inBatch<T>(index: number, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw inBatchError(index, err);
  }
}

async function inBatchAsync<T>(index: number, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    throw inBatchError(index, err);
  }
}

function inBatchError(index: number, err: unknown): unknown {
  if (!(err instanceof JobValidationError)) return err;
  const issues = err.issues.map((issue) => ({ ...issue, field: `jobs.${index}.${issue.field}` }));
  return new JobValidationError(issues, { cause: err });
}

/** Refuses a caller who may not have this (new or stored) target. */
function mayHave(target: TargetOfOwner, caller: JobOwner): void {
  const problem = ownerTargetProblem(target, caller);
  if (problem) throw new ForbiddenError(problem, { scope: Scope.admin });
}

/**
 * A new job's target with its subject inside this installation's namespace resolved away.
 * @throws JobValidationError naming `target.subject` when it names another installation's.
 */
function logicalTarget(target: JobDefinition["target"], namespace: TargetNamespace): TargetOfOwner {
  if (target.kind !== TargetKind.nats) return target;
  const resolved = namespace.resolve(target.subject);
  if ("problem" in resolved) {
    throw new JobValidationError([{ field: "target.subject", message: resolved.problem }]);
  }
  return { kind: target.kind, subject: resolved.logical };
}

/** A stored target as the rules see it; one that no longer resolves is judged as written (refused to all but admin). */
function storedTarget(target: JobDefinition["target"], namespace: TargetNamespace): TargetOfOwner {
  if (target.kind !== TargetKind.nats) return target;
  const resolved = namespace.resolve(target.subject);
  return { kind: target.kind, subject: "problem" in resolved ? target.subject : resolved.logical };
}

export function createJobAdmin(deps: {
  store: SchedulerStore;
  checkTarget: TargetCheck;
  /** This installation's namespace, which target subjects are published inside. */
  namespace: TargetNamespace;
  forget: (jobId: string) => void;
  /** Most active or paused jobs one owner short of `admin` may have. */
  maxJobsPerOwner: number;
}): JobAdmin {
  const { store, checkTarget, namespace, forget, maxJobsPerOwner } = deps;
  const changed = <T extends StoredJob | null>(job: T): T => {
    if (job) forget(job.id);
    return job;
  };
  /** A caller short of admin may touch only jobs whose stored target does not need it. */
  const mayTouch = async (id: string, caller: JobOwner): Promise<void> => {
    if (grants(caller.scopes, Scope.admin)) return;
    const stored = await store.get(id);
    if (stored) mayHave(storedTarget(stored.definition.target, namespace), caller);
  };
  return {
    async upsert(input, caller) {
      const job: JobDefinition = parseJobDefinition(input);
      // Fail fast on a one-shot obviously in the past before the stream lookup; the store
      // repeats the check on the database's clock, which is the one that counts.
      checkSchedulable(job, new Date(Date.now() - 5_000));
      mayHave(logicalTarget(job.target, namespace), caller);
      await mayTouch(job.id, caller);
      await checkTarget(job);
      // `admin` may do anything anyway (delete a database); the cap bounds everyone else.
      const capped = !grants(caller.scopes, Scope.admin);
      const result = await store.upsert(job, { owner: caller, ...(capped && { maxJobsPerOwner }) });
      if (result.outcome === "updated") forget(job.id);
      return result;
    },
    async upsertMany(inputs, caller) {
      const jobs = inputs.map((input, i) => inBatch(i, () => parseJobDefinition(input)));
      const soon = new Date(Date.now() - 5_000);
      for (const [i, job] of jobs.entries()) {
        inBatch(i, () => checkSchedulable(job, soon));
        try {
          mayHave(logicalTarget(job.target, namespace), caller);
        } catch (err) {
          if (!(err instanceof ForbiddenError)) throw err;
          throw new ForbiddenError(`jobs.${i} (${JSON.stringify(job.id)}): ${err.message}`, {
            scope: err.scope,
            cause: err,
          });
        }
      }
      await Promise.all(jobs.map((job) => mayTouch(job.id, caller)));
      // One after the other: the first lookup of a subject fills the target check's cache for the rest.
      for (const [i, job] of jobs.entries()) await inBatchAsync(i, () => checkTarget(job));
      const capped = !grants(caller.scopes, Scope.admin);
      const results = await store.upsertMany(jobs, { owner: caller, ...(capped && { maxJobsPerOwner }) });
      for (const r of results) if (r.outcome === "updated") forget(r.job.id);
      return results;
    },
    async cancel(id, caller) {
      await mayTouch(id, caller);
      return changed(await store.cancel(id));
    },
    async pause(id, caller) {
      await mayTouch(id, caller);
      return changed(await store.pause(id));
    },
    async resume(id, caller) {
      await mayTouch(id, caller);
      return store.resume(id);
    },
    async trigger(id, caller) {
      await mayTouch(id, caller);
      return store.trigger(id);
    },
  };
}
