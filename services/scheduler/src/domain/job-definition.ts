import { Cron } from "croner";
import { z } from "zod";
import { JobLimits, MisfirePolicy, TargetKind } from "./limits.ts";
import { jobRetention } from "./run-retention.ts";
import { headerRecord, jsonPayload } from "./target-fields.ts";
import { headerNameProblem, subjectProblem } from "./target-subject.ts";
import { isIanaTimeZone } from "./time-zone.ts";
import { httpTarget } from "./webhook-target.ts";

/** An RFC 3339 instant with `Z` or an explicit offset: a wall-clock time without a zone is ambiguous. */
const instant = z.iso
  .datetime({ offset: true, message: "must be an RFC 3339 date-time with 'Z' or an offset" })
  .refine(isRealCalendarDate, "is not a real calendar date-time");

function isRealCalendarDate(value: string): boolean {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) return false;
  // Date.parse rolls 2026-02-30 over to March; compare the calendar fields the caller wrote
  // against those of the same instant shifted by the caller's offset.
  const match = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}:\d{2}(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.exec(value);
  if (!match) return false;
  const [, y, m, d, zone] = match;
  const offsetMin = zone?.toUpperCase() === "Z" ? 0 : offsetMinutes(zone ?? "+00:00");
  const local = new Date(ms + offsetMin * 60_000);
  return (
    local.getUTCFullYear() === Number(y) &&
    local.getUTCMonth() + 1 === Number(m) &&
    local.getUTCDate() === Number(d)
  );
}

function offsetMinutes(zone: string): number {
  const sign = zone.startsWith("-") ? -1 : 1;
  return sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
}

const atSchedule = z.strictObject({ kind: z.literal("at"), at: instant });

const everySchedule = z
  .strictObject({
    kind: z.literal("every"),
    everyMs: z.number().int().min(JobLimits.minEveryMs).max(JobLimits.maxEveryMs),
    /** Offset of the grid from the Unix epoch: occurrences are `phaseMs + k × everyMs`. */
    phaseMs: z.number().int().min(0).default(0),
  })
  .refine((s) => s.phaseMs < s.everyMs, { path: ["phaseMs"], message: "must be less than everyMs" });

const cronSchedule = z
  .strictObject({
    kind: z.literal("cron"),
    expression: z.string().trim().min(1).max(200),
    timeZone: z
      .string()
      .refine(isIanaTimeZone, "must be an IANA time zone (e.g. Europe/Berlin)")
      .default("UTC"),
  })
  .superRefine((s, ctx) => {
    const problem = cronExpressionProblem(s.expression);
    if (problem) ctx.addIssue({ code: "custom", path: ["expression"], message: problem });
  });

/**
 * Why a cron expression is refused, or `null`. Five fields (minute resolution) or six (seconds
 * first); croner's nicknames (`@daily`, …) too, except `@reboot`, which is no time at all.
 */
export function cronExpressionProblem(expression: string): string | null {
  const fields = expression.trim().split(/\s+/);
  if (!expression.trim().startsWith("@") && fields.length !== 5 && fields.length !== 6) {
    return `must have 5 fields (minute hour day month weekday) or 6 (seconds first), not ${fields.length}`;
  }
  try {
    new Cron(expression, { mode: "5-or-6-parts" });
    return null;
  } catch (err) {
    return `is not a valid cron expression: ${(err as Error).message.replace(/^CronPattern: /, "")}`;
  }
}

export const jobSchedule = z.discriminatedUnion("kind", [atSchedule, everySchedule, cronSchedule]);

const natsTarget = z.strictObject({
  /** Optional on input: jobs saved before webhooks existed, and their clients, name no kind. */
  kind: z.literal(TargetKind.nats).default(TargetKind.nats),
  subject: z.string().superRefine((s, ctx) => {
    const problem = subjectProblem(s);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  payload: jsonPayload.default(null),
  headers: headerRecord(headerNameProblem).optional(),
});

export const jobTarget = z.discriminatedUnion("kind", [natsTarget, httpTarget]);

/**
 * A job as the caller defines it. Parsing applies the defaults, so the stored definition is
 * complete and two upserts of the same job compare equal.
 */
export const jobDefinition = z
  .strictObject({
    id: z
      .string()
      .regex(
        JobLimits.idPattern,
        "must be 1–128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit",
      ),
    schedule: jobSchedule,
    /** Inclusive: an occurrence exactly at startAt runs. */
    startAt: instant.optional(),
    /** Exclusive: an occurrence exactly at endAt does not run. */
    endAt: instant.optional(),
    /** How many occurrences fire at most; missed occurrences do not count. */
    maxRuns: z.number().int().min(1).optional(),
    target: jobTarget,
    misfire: z.enum([MisfirePolicy.skip, MisfirePolicy.once, MisfirePolicy.all]).default(MisfirePolicy.once),
    maxLatenessMs: z
      .number()
      .int()
      .min(JobLimits.minMaxLatenessMs)
      .max(JobLimits.maxMaxLatenessMs)
      .default(JobLimits.defaultMaxLatenessMs),
    /** Replaces the global run retention for this job's runs. */
    retention: jobRetention.optional(),
  })
  .refine((j) => !j.startAt || !j.endAt || Date.parse(j.startAt) < Date.parse(j.endAt), {
    path: ["endAt"],
    message: "must be after startAt",
  });

/** A job definition as accepted from a caller (defaults not yet applied). */
export type JobDefinitionInput = z.input<typeof jobDefinition>;
/** A complete, validated job definition. */
export type JobDefinition = z.output<typeof jobDefinition>;
export type JobSchedule = JobDefinition["schedule"];
export type JobTarget = JobDefinition["target"];
export type NatsTarget = Extract<JobTarget, { kind: "nats" }>;
export type HttpTarget = Extract<JobTarget, { kind: "http" }>;
