import { parse as parseYaml } from "yaml";
import { UsageError } from "./cli-error.ts";

/** The flags of `dbplane jobs create`, as commander hands them over. */
export interface JobFlags {
  readonly id?: string;
  readonly every?: string;
  readonly cron?: string;
  readonly timeZone?: string;
  readonly at?: string;
  readonly subject?: string;
  readonly url?: string;
  readonly payload?: string;
  readonly maxRuns?: number;
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `90s`, `5m`, `1h`, `250ms`, `2d` → milliseconds. */
export function durationMs(value: string): number {
  const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(value);
  if (!match) throw new UsageError(`"${value}" is not a duration (e.g. 90s, 5m, 1h)`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** A job document from a file: JSON, or YAML (a superset). Must be one object. */
export function parseJobDocument(text: string, file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new UsageError(`${file}: not JSON or YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new UsageError(`${file}: expected one job object (id, schedule, target)`);
  }
  return doc as Record<string, unknown>;
}

/**
 * The scheduler's `POST /v1/jobs` body: the file's document (if any) with the flags laid over
 * it. Only the shape is built here; the scheduler validates it and names any bad field.
 */
export function jobBodyOf(flags: JobFlags, fromFile: Record<string, unknown> = {}): Record<string, unknown> {
  const schedules = [flags.every, flags.cron, flags.at].filter((v) => v !== undefined);
  if (schedules.length > 1) throw new UsageError("give one of --every, --cron, --at");
  if (flags.subject !== undefined && flags.url !== undefined)
    throw new UsageError("give one of --subject, --url");
  const body: Record<string, unknown> = { ...fromFile };
  if (flags.id !== undefined) body.id = flags.id;
  if (flags.every !== undefined) body.schedule = { kind: "every", everyMs: durationMs(flags.every) };
  if (flags.cron !== undefined) {
    body.schedule = {
      kind: "cron",
      expression: flags.cron,
      ...(flags.timeZone !== undefined && { timeZone: flags.timeZone }),
    };
  } else if (flags.timeZone !== undefined) {
    throw new UsageError("--time-zone goes with --cron");
  }
  if (flags.at !== undefined) body.schedule = { kind: "at", at: flags.at };
  let payload: unknown;
  if (flags.payload !== undefined) {
    try {
      payload = JSON.parse(flags.payload);
    } catch {
      throw new UsageError("--payload must be JSON");
    }
  }
  if (flags.subject !== undefined) {
    body.target = { kind: "nats", subject: flags.subject, ...(payload !== undefined && { payload }) };
  } else if (flags.url !== undefined) {
    body.target = { kind: "http", url: flags.url, ...(payload !== undefined && { body: payload }) };
  } else if (payload !== undefined) {
    const target = body.target;
    if (typeof target !== "object" || target === null) {
      throw new UsageError("--payload goes with --subject or --url (or a --file that has a target)");
    }
    const http = (target as { kind?: unknown }).kind === "http";
    body.target = { ...target, [http ? "body" : "payload"]: payload };
  }
  if (flags.maxRuns !== undefined) body.maxRuns = flags.maxRuns;
  for (const field of ["id", "schedule", "target"]) {
    if (body[field] === undefined) {
      throw new UsageError(
        `a job needs ${field === "id" ? "--id" : field === "schedule" ? "--every, --cron or --at" : "--subject or --url"} (or a --file that has ${field})`,
      );
    }
  }
  return body;
}
