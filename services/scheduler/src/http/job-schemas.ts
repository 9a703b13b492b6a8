import { scheduleJob } from "@dbplane/contracts";
import { z } from "zod";
import type { JobDefinition } from "../domain/job-definition.ts";
import type { StoredJob } from "../store/job-rows.ts";
import { JobState } from "../store/job-rows.ts";
import type { RunRecord } from "../store/run-records.ts";

/** `POST /v1/jobs` body: exactly the `schedule-job` command's data. */
export const jobBody = scheduleJob.schema;

export const jobIdParams = z.object({
  id: z.string().min(1).max(200).describe("Job id"),
});

const instant = z.string().describe("RFC 3339, UTC");
const nullableInstant = instant.nullable();

export const jobResource = z
  .object({
    id: z.string(),
    definition: z
      .record(z.string(), z.unknown())
      .describe("The job as saved, defaults applied; a webhook target's header values read [redacted]"),
    state: z.enum(Object.values(JobState) as [JobState, ...JobState[]]),
    nextRunAt: nullableInstant.describe("The next occurrence; null unless active"),
    triggerAt: nullableInstant.describe("A pending manual trigger's scheduled time"),
    runsCount: z.int().describe("Occurrences fired (toward maxRuns)"),
    missedCount: z.int().describe("Occurrences recorded as missed"),
    lastRunAt: nullableInstant,
    claimedBy: z.string().nullable().describe("The replica holding the job now, if any"),
    version: z.int().describe("Bumped by every change made through the API"),
    owner: z
      .string()
      .nullable()
      .describe(
        "Who saved the job last: the token's subject, or service:<source> for the schedule-job command (a service holds no scope: it may have only targets it may publish itself)",
      ),
    ownerScopes: z
      .array(z.string())
      .describe(
        "The scopes the owner held then; a dbplane command or event target fires only while they grant admin (a service owner's target: only while the service may publish it)",
      ),
    createdAt: instant,
    updatedAt: instant,
  })
  .describe("A scheduled job");

export const jobPage = z.object({
  items: z.array(jobResource),
  nextCursor: z.string().nullable().describe("Pass as `cursor` for the next page; null on the last"),
});

export const runResource = z.object({
  jobId: z.string(),
  scheduledAt: instant,
  manual: z.boolean().describe("A manual trigger rather than the schedule"),
  outcome: z.enum(["fired", "missed", "failed"]),
  firedAt: nullableInstant,
  latenessMs: z.number().nullable(),
  error: z.string().nullable(),
  streamSeq: z.number().nullable().describe("Stream sequence of the published message"),
  messageId: z.string().describe("The Nats-Msg-Id of the occurrence"),
  recordedAt: instant.describe("When the run was recorded (the database's clock)"),
});

export const runPage = z.object({ items: z.array(runResource), nextCursor: z.string().nullable() });

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toJobResource(job: StoredJob): z.infer<typeof jobResource> {
  return {
    id: job.id,
    definition: withoutSecrets(job.definition) as unknown as Record<string, unknown>,
    state: job.state,
    nextRunAt: iso(job.nextRunAt),
    triggerAt: iso(job.triggerAt),
    runsCount: job.runsCount,
    missedCount: job.missedCount,
    lastRunAt: iso(job.lastRunAt),
    claimedBy: job.claimedBy,
    version: job.version,
    owner: job.owner.id,
    ownerScopes: [...job.owner.scopes],
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
  };
}

/** Shown for each header value of a webhook target: reads need no token, and headers carry them. */
export const REDACTED = "[redacted]";

/**
 * The definition as the API shows it: a webhook target's header values (bearer tokens, API
 * keys) are replaced by `[redacted]`, since reading a job needs no token. Their names stay, so
 * a reader can see which headers are sent.
 */
function withoutSecrets(definition: JobDefinition): JobDefinition {
  const { target } = definition;
  if (target.kind !== "http" || !target.headers) return definition;
  const headers = Object.fromEntries(Object.keys(target.headers).map((name) => [name, REDACTED]));
  return { ...definition, target: { ...target, headers } };
}

export function toRunResource(run: RunRecord): z.infer<typeof runResource> {
  return {
    jobId: run.jobId,
    scheduledAt: run.scheduledAt.toISOString(),
    manual: run.manual,
    outcome: run.outcome,
    firedAt: iso(run.firedAt),
    latenessMs: run.latenessMs,
    error: run.error,
    streamSeq: run.streamSeq,
    messageId: `${run.jobId}:${run.scheduledAt.toISOString()}`,
    recordedAt: run.recordedAt.toISOString(),
  };
}
