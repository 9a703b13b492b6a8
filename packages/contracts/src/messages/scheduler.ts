import { z } from "zod";
import { identifier, jsonValue, reason, timestamp } from "../field-types.ts";
import type { MessageData } from "../message.ts";
import { defineCommand, defineEvent } from "../message.ts";

/** Accepts what the runtime's Intl accepts: IANA zone names and `UTC`. */
function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/**
 * A NATS subject to publish to: dot-separated tokens, no wildcards or whitespace. Ordinary
 * dbplane subjects qualify, as does any subject of the user's own.
 */
const natsSubject = z
  .string()
  .max(255)
  .regex(/^[^\s.*>]+(\.[^\s.*>]+)*$/, "must be a NATS subject without wildcards");

// The scheduler sets the CloudEvents and dedup headers itself; a job must not override them.
const reservedHeader = /^(ce-|nats-)/i;

const schedule = z
  .discriminatedUnion("kind", [
    z
      .strictObject({
        kind: z.literal("at"),
        at: timestamp.describe("The one time the job fires (RFC 3339)"),
      })
      .describe("One-shot"),
    z
      .strictObject({
        kind: z.literal("every"),
        everyMs: z.int().min(100).describe("Interval in milliseconds"),
        phaseMs: z
          .int()
          .min(0)
          .optional()
          .describe(
            "Offset of occurrences from the Unix epoch, below everyMs; fires on multiples of everyMs if absent",
          ),
      })
      .refine((s) => s.phaseMs === undefined || s.phaseMs < s.everyMs, {
        message: "phaseMs must be below everyMs",
        path: ["phaseMs"],
      })
      .describe("Fixed interval"),
    z
      .strictObject({
        kind: z.literal("cron"),
        expression: z
          .string()
          .trim()
          .min(1)
          .max(200)
          .regex(/^[^\n\r]+$/, "must be one line")
          .describe("Cron expression (5 or 6 fields, or a nickname such as @daily)"),
        timeZone: z
          .string()
          .default("UTC")
          .refine(isTimeZone, "must be an IANA time zone such as Europe/Berlin")
          .describe("IANA time zone the expression is read in"),
      })
      .describe("Cron expression in a time zone"),
  ])
  .describe("When the job fires");

const jobWindow = {
  startAt: timestamp.optional().describe("No occurrence before this time"),
  endAt: timestamp.optional().describe("No occurrence after this time"),
};

export const scheduleJob = defineCommand({
  service: "scheduler",
  name: "schedule-job",
  schema: z
    .strictObject({
      id: identifier.describe("Job id chosen by the caller; scheduling an existing id replaces that job"),
      schedule,
      target: z
        .strictObject({
          subject: natsSubject.describe("Subject the message is published to"),
          payload: jsonValue.describe("JSON data of the published message"),
          headers: z
            .record(
              z
                .string()
                .min(1)
                .max(128)
                .refine((h) => !reservedHeader.test(h), "ce-* and Nats-* headers are reserved"),
              z.string(),
            )
            .optional()
            .describe("Extra NATS headers of the published message"),
        })
        .describe("What is published when the job fires"),
      misfire: z
        .enum(["skip", "once", "all"])
        .default("skip")
        .describe("Occurrences missed while no replica ran: skip them, fire once, or fire each"),
      maxLatenessMs: z
        .int()
        .min(0)
        .optional()
        .describe("An occurrence later than this is missed, not fired; no limit if absent"),
      ...jobWindow,
      maxRuns: z.int().min(1).optional().describe("The job ends after this many runs"),
    })
    .refine((j) => !j.startAt || !j.endAt || Date.parse(j.endAt) > Date.parse(j.startAt), {
      message: "endAt must be after startAt",
      path: ["endAt"],
    }),
  summary: "Create or replace a scheduled job.",
});

export const cancelJob = defineCommand({
  service: "scheduler",
  name: "cancel-job",
  schema: z.strictObject({ id: identifier.describe("Job id") }),
  summary: "Cancel a job; occurrences not yet fired are dropped.",
});

export const jobFired = defineEvent({
  service: "scheduler",
  name: "job.fired",
  schema: z.strictObject({
    jobId: identifier,
    scheduledAt: timestamp.describe("The occurrence's due time"),
    firedAt: timestamp.describe("When the target message was published"),
    lateMs: z.int().min(0).describe("firedAt - scheduledAt, at least 0"),
    targetSubject: natsSubject.describe("Subject the target message was published to"),
    messageSeq: z
      .int()
      .min(1)
      .optional()
      .describe("Stream sequence of the target message, when it went to a stream"),
  }),
  summary: "A job's occurrence fired: its target message was published.",
});

export const jobMissed = defineEvent({
  service: "scheduler",
  name: "job.missed",
  schema: z.strictObject({
    jobId: identifier,
    scheduledAt: timestamp.describe("The occurrence's due time"),
    reason,
  }),
  summary: "A job's occurrence was not fired (misfire policy or lateness limit).",
});

export type ScheduleJob = MessageData<typeof scheduleJob>;
export type CancelJob = MessageData<typeof cancelJob>;
export type JobFired = MessageData<typeof jobFired>;
export type JobMissed = MessageData<typeof jobMissed>;
