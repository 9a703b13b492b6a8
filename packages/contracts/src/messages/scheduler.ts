import { z } from "zod";
import { identifier, jsonValue, reason, timestamp } from "../field-types.ts";
import type { MessageData } from "../message.ts";
import { defineCommand, defineEvent } from "../message.ts";

/*
 * `schedule-job` accepts exactly the job definitions the scheduler accepts (its domain's
 * `parseJobDefinition` is the authority, and a scheduler test checks the two agree on a table of
 * cases). Two checks need the service itself: whether a cron expression's values are in range
 * (croner parses it) and time-relative ones (an `at` already past), which depend on the
 * database's clock. A command failing those is dead-lettered by the scheduler with the fields.
 */

/** IANA zone names the runtime knows (and `UTC`); fixed offsets such as `+05:30` are refused. */
export function isTimeZone(value: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(value)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/**
 * A NATS subject a JetStream stream captures: printable ASCII tokens without wildcards or empty
 * tokens, and not in the server's `$…` spaces (`$JS`, `$KV`, …) or `_INBOX`.
 */
const natsSubject = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces")
  .regex(/^[^*>]*$/, "must be a concrete subject: no wildcards ('*' or '>')")
  .refine((s) => !s.split(".").includes(""), "must not have empty tokens (leading, trailing or double '.')")
  .refine((s) => !s.startsWith("$"), "must not be in a system space ($JS, $KV, $O, $SYS, …)")
  .refine((s) => s !== "_INBOX" && !s.startsWith("_INBOX."), "must not be in the _INBOX space");

/** RFC 3339 with `Z` or an offset, and a real calendar date (no 30 February). */
const instant = timestamp.refine((v) => {
  const m = /^(\d{4})-(\d{2})-(\d{2})T[^Z+-]*(Z|[+-]\d{2}:\d{2})$/i.exec(v);
  if (!m) return false;
  const offset =
    m[4]!.toUpperCase() === "Z"
      ? 0
      : (m[4]!.startsWith("-") ? -1 : 1) * (Number(m[4]!.slice(1, 3)) * 60 + Number(m[4]!.slice(4, 6)));
  const local = new Date(Date.parse(v) + offset * 60_000);
  return (
    local.getUTCFullYear() === Number(m[1]) &&
    local.getUTCMonth() + 1 === Number(m[2]) &&
    local.getUTCDate() === Number(m[3])
  );
}, "is not a real calendar date-time");

// The scheduler sets the CloudEvents and dedup headers itself; a job must not override them.
const reservedHeader = /^(ce-|nats-)/i;
const headerToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;
const maxPayloadBytes = 64 * 1024;

export const cronExpression = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine(
    (e) => (e.startsWith("@") ? e !== "@reboot" : [5, 6].includes(e.split(/\s+/).length)),
    "must have 5 fields (minute hour day month weekday) or 6 (seconds first), or be a nickname such as @daily",
  );

const schedule = z
  .discriminatedUnion("kind", [
    z
      .strictObject({
        kind: z.literal("at"),
        at: instant.describe("The one time the job fires (RFC 3339)"),
      })
      .describe("One-shot"),
    z
      .strictObject({
        kind: z.literal("every"),
        everyMs: z
          .int()
          .min(1_000)
          .max(366 * 24 * 3_600_000)
          .describe("Interval in milliseconds (at least a second)"),
        phaseMs: z
          .int()
          .min(0)
          .default(0)
          .describe("Offset of occurrences from the Unix epoch (phaseMs + k × everyMs), below everyMs"),
      })
      .refine((s) => s.phaseMs < s.everyMs, { message: "must be less than everyMs", path: ["phaseMs"] })
      .describe("Fixed interval"),
    z
      .strictObject({
        kind: z.literal("cron"),
        expression: cronExpression.describe("Cron expression (5 or 6 fields, or a nickname such as @daily)"),
        timeZone: z
          .string()
          .refine(isTimeZone, "must be an IANA time zone (e.g. Europe/Berlin)")
          .default("UTC")
          .describe("IANA time zone the expression is read in"),
      })
      .describe("Cron expression in a time zone"),
  ])
  .describe("When the job fires");

const headers = z
  .record(
    z
      .string()
      .regex(headerToken, "must be an HTTP header token (1–128 characters)")
      .refine((h) => !reservedHeader.test(h), "ce-* and Nats-* headers are reserved"),
    z
      .string()
      .max(4_096)
      .regex(/^[^\r\n]*$/, "must not contain line breaks"),
  )
  .refine((r) => Object.keys(r).length <= 32, "must have at most 32 headers");

const natsTarget = z
  .strictObject({
    kind: z.literal("nats").default("nats").describe("A NATS message (the default when kind is absent)"),
    subject: natsSubject.describe(
      "Subject the message is published to, without a namespace: the scheduler publishes it inside its installation's (<ns>.<subject>), where a JetStream stream must capture it; another installation's <ns>.dbplane.… is refused. Sent by a service, it must be one that service may publish itself",
    ),
    payload: jsonValue
      .refine(
        (v) => Buffer.byteLength(JSON.stringify(v)) <= maxPayloadBytes,
        `must be at most ${maxPayloadBytes} bytes as JSON`,
      )
      .default(null)
      .describe("JSON data of the published message"),
    headers: headers.optional().describe("Extra NATS headers of the published message"),
  })
  .describe("Publish one NATS message per occurrence, exactly once");

// The scheduler writes these itself on every webhook attempt (or the HTTP client owns them).
const reservedHttpHeader = /^(ce-|idempotency-key$|host$|content-length$|transfer-encoding$|connection$)/i;

const httpHeaders = z
  .record(
    z
      .string()
      .regex(headerToken, "must be an HTTP header token (1–128 characters)")
      .refine(
        (h) => !reservedHttpHeader.test(h),
        "ce-*, Idempotency-Key, Host, Content-Length, Transfer-Encoding and Connection are set by the scheduler",
      ),
    z
      .string()
      .max(4_096)
      .regex(/^[^\r\n]*$/, "must not contain line breaks"),
  )
  .refine((r) => Object.keys(r).length <= 32, "must have at most 32 headers");

const webhookUrl = z
  .string()
  .max(2_048)
  .refine((u) => {
    if (!URL.canParse(u)) return false;
    const url = new URL(u);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  }, "must be an absolute http or https URL")
  .refine((u) => !URL.canParse(u) || (new URL(u).username === "" && new URL(u).password === ""), {
    message: "must not carry credentials: put them in headers",
  });

const httpTarget = z
  .strictObject({
    kind: z.literal("http"),
    url: webhookUrl.describe(
      "Endpoint called per occurrence; must be a public address unless DBPLANE_SCHEDULER_WEBHOOK_ALLOW lists it",
    ),
    method: z.enum(["POST", "GET", "PUT", "PATCH", "DELETE"]).default("POST").describe("HTTP method"),
    headers: httpHeaders.optional().describe("Extra request headers (values are never logged)"),
    body: jsonValue
      .refine(
        (v) => Buffer.byteLength(JSON.stringify(v)) <= maxPayloadBytes,
        `must be at most ${maxPayloadBytes} bytes as JSON`,
      )
      .optional()
      .describe("JSON request body (not with GET)"),
    timeoutMs: z
      .int()
      .min(100)
      .max(300_000)
      .default(10_000)
      .describe("One attempt's limit, connection to last byte of the response"),
    maxAttempts: z.int().min(1).max(20).default(5).describe("Attempts at most, the first included"),
    overlap: z
      .enum(["skip", "buffer_one", "allow_all"])
      .default("allow_all")
      .describe(
        "When the job's previous delivery is still pending or running: skip the new one, keep at most one waiting, or deliver concurrently",
      ),
  })
  .refine((t) => t.method !== "GET" || t.body === undefined, {
    message: "must be absent for GET",
    path: ["body"],
  })
  .describe(
    "Call an HTTP endpoint per occurrence, at least once, retried with backoff; Idempotency-Key and CloudEvents headers identify the occurrence",
  );

const target = z
  .discriminatedUnion("kind", [natsTarget, httpTarget])
  .describe("What happens when the job fires");

/** The scheduler's own bounds of DBPLANE_SCHEDULER_RUN_RETENTION: at least 10 minutes, at most 3650 days. */
const retention = z
  .strictObject({
    count: z.int().min(1).max(999_999_999).optional().describe("Newest runs kept (by scheduled time)"),
    // The lower bound as a refinement, not .min(): testkit's hostile-input generator draws
    // integers within ±1000 of a schema's range and cannot honour a minimum above 1000.
    ageMs: z
      .int()
      .max(3_650 * 86_400_000)
      .refine((ms) => ms >= 600_000, "must be at least 600000 (10 minutes)")
      .optional()
      .describe("Runs recorded longer ago than this are pruned (10 minutes to 3650 days)"),
  })
  .describe(
    "This job's run history kept, instead of DBPLANE_SCHEDULER_RUN_RETENTION: an absent field is no limit of that kind ({} keeps every run)",
  );

export const scheduleJob = defineCommand({
  service: "scheduler",
  name: "schedule-job",
  sentBy: ["router", "provisioner"],
  schema: z
    .strictObject({
      id: identifier.describe("Job id chosen by the caller; scheduling an existing id replaces that job"),
      schedule,
      startAt: instant.optional().describe("No occurrence before this time (inclusive)"),
      endAt: instant.optional().describe("No occurrence at or after this time"),
      maxRuns: z.int().min(1).optional().describe("The job ends after this many fired occurrences"),
      target,
      misfire: z
        .enum(["skip", "once", "all"])
        .default("once")
        .describe(
          "Occurrences overdue by more than maxLatenessMs (no replica ran, or the one holding the job was too slow): skip them, fire the latest once, or fire each (capped)",
        ),
      maxLatenessMs: z
        .int()
        .min(1_000)
        .max(7 * 24 * 3_600_000)
        .default(60_000)
        .describe(
          "An occurrence later than this is a misfire, settled by the misfire policy (skip: recorded as missed, not fired)",
        ),
      retention: retention.optional(),
    })
    .refine((j) => !j.startAt || !j.endAt || Date.parse(j.endAt) > Date.parse(j.startAt), {
      message: "must be after startAt",
      path: ["endAt"],
    }),
  summary: "Create or replace a scheduled job.",
});

export const cancelJob = defineCommand({
  service: "scheduler",
  name: "cancel-job",
  sentBy: ["provisioner"],
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
    targetSubject: natsSubject
      .optional()
      .describe("Subject the target message was published to (NATS targets)"),
    targetUrl: z
      .string()
      .max(2_048)
      .optional()
      .describe("Origin and path of the webhook handed to delivery (http targets; no query)"),
    messageSeq: z
      .int()
      .min(1)
      .optional()
      .describe("Stream sequence of the target message, when it went to a stream"),
  }),
  summary: "A job's occurrence fired: its target message was published, or its webhook delivery was queued.",
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

export const jobDelivered = defineEvent({
  service: "scheduler",
  name: "job.delivered",
  schema: z.strictObject({
    jobId: identifier,
    scheduledAt: timestamp.describe("The occurrence's due time"),
    attempts: z.int().min(1).describe("Attempts made, the successful one included"),
    status: z.int().min(200).max(299).describe("HTTP status of the successful attempt"),
    durationMs: z.int().min(0).describe("The successful attempt's duration"),
    deliveredAt: timestamp.describe("When the delivery was recorded as succeeded"),
  }),
  summary: "A webhook delivery ended with a 2xx answer (published once per delivery).",
});

export const jobDeliveryFailed = defineEvent({
  service: "scheduler",
  name: "job.delivery-failed",
  schema: z.strictObject({
    jobId: identifier,
    scheduledAt: timestamp.describe("The occurrence's due time"),
    reason: z
      .enum(["rejected", "refused", "max-attempts", "too-late"])
      .describe(
        "rejected: the endpoint answered so that repeating cannot help (4xx but 408/429, 1xx, 3xx); refused: its address is not allowed (DBPLANE_SCHEDULER_WEBHOOK_ALLOW); max-attempts: maxAttempts used up; too-late: no further attempt could start within maxLatenessMs",
      ),
    attempts: z.int().min(0).describe("Attempts made"),
    lastStatus: z.int().min(100).max(599).optional().describe("HTTP status of the last answer, if any"),
    lastError: reason.optional().describe("What went wrong last (no header values, query or body)"),
    failedAt: timestamp.describe("When the delivery was recorded as failed"),
  }),
  summary: "A webhook delivery ended without success, for good (published once per delivery).",
});

export type ScheduleJob = MessageData<typeof scheduleJob>;
export type CancelJob = MessageData<typeof cancelJob>;
export type JobFired = MessageData<typeof jobFired>;
export type JobMissed = MessageData<typeof jobMissed>;
export type JobDelivered = MessageData<typeof jobDelivered>;
export type JobDeliveryFailed = MessageData<typeof jobDeliveryFailed>;
