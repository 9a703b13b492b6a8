import { describe, expect, it } from "vitest";
import type { JobDefinitionInput } from "../src/domain/job-definition.ts";
import { checkSchedulable, JobValidationError, parseJobDefinition } from "../src/domain/job-validation.ts";
import { JobLimits } from "../src/domain/limits.ts";

const base = {
  id: "backup.db-1",
  schedule: { kind: "cron", expression: "0 2 * * *", timeZone: "Europe/Berlin" },
  target: { subject: "dbplane.cmd.provisioner.backup", payload: { db: 1 } },
} satisfies JobDefinitionInput;

function fieldsOf(input: unknown): string[] {
  try {
    parseJobDefinition(input);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(JobValidationError);
    return (err as JobValidationError).issues.map((e) => e.field);
  }
}

describe("job definition", () => {
  it("applies defaults: misfire once, maxLatenessMs 60 s, null payload, phase 0, zone UTC", () => {
    const job = parseJobDefinition({
      id: "j",
      schedule: { kind: "every", everyMs: 1000 },
      target: { subject: "a.b" },
    });
    expect(job).toEqual({
      id: "j",
      schedule: { kind: "every", everyMs: 1000, phaseMs: 0 },
      target: { kind: "nats", subject: "a.b", payload: null },
      misfire: "once",
      maxLatenessMs: JobLimits.defaultMaxLatenessMs,
    });
    const cron = parseJobDefinition({ ...base, schedule: { kind: "cron", expression: "* * * * *" } });
    expect(cron.schedule).toEqual({ kind: "cron", expression: "* * * * *", timeZone: "UTC" });
  });

  it.each([
    ["5-field cron", { kind: "cron", expression: "0 2 * * *", timeZone: "Europe/Berlin" }],
    ["6-field cron with seconds", { kind: "cron", expression: "*/1 * * * * *", timeZone: "UTC" }],
    ["cron nickname", { kind: "cron", expression: "@daily", timeZone: "Asia/Kolkata" }],
    ["at with offset", { kind: "at", at: "2030-01-01T00:00:00.250+05:30" }],
    ["at in UTC", { kind: "at", at: "2030-01-01T00:00:00Z" }],
    ["every with phase", { kind: "every", everyMs: 60_000, phaseMs: 59_999 }],
  ])("accepts %s", (_name, schedule) => {
    expect(fieldsOf({ ...base, schedule })).toEqual([]);
  });

  it.each([
    ["id with a slash", { ...base, id: "a/b" }, "id"],
    ["empty id", { ...base, id: "" }, "id"],
    ["id of 129 characters", { ...base, id: "x".repeat(129) }, "id"],
    ["id with a colon (the occurrence id's separator)", { ...base, id: "backup:db-1" }, "id"],
    [
      "invalid cron",
      { ...base, schedule: { kind: "cron", expression: "61 * * * *" } },
      "schedule.expression",
    ],
    [
      "cron with 4 fields",
      { ...base, schedule: { kind: "cron", expression: "* * * *" } },
      "schedule.expression",
    ],
    [
      "cron with 7 fields",
      { ...base, schedule: { kind: "cron", expression: "0 0 0 * * * 2030" } },
      "schedule.expression",
    ],
    ["@reboot", { ...base, schedule: { kind: "cron", expression: "@reboot" } }, "schedule.expression"],
    [
      "unknown zone",
      { ...base, schedule: { kind: "cron", expression: "0 2 * * *", timeZone: "Mars/Olympus" } },
      "schedule.timeZone",
    ],
    [
      "offset as zone",
      { ...base, schedule: { kind: "cron", expression: "0 2 * * *", timeZone: "+05:30" } },
      "schedule.timeZone",
    ],
    ["at without offset", { ...base, schedule: { kind: "at", at: "2030-01-01T00:00:00" } }, "schedule.at"],
    ["at on 30 February", { ...base, schedule: { kind: "at", at: "2030-02-30T00:00:00Z" } }, "schedule.at"],
    ["every below a second", { ...base, schedule: { kind: "every", everyMs: 999 } }, "schedule.everyMs"],
    [
      "phase not below the interval",
      { ...base, schedule: { kind: "every", everyMs: 1000, phaseMs: 1000 } },
      "schedule.phaseMs",
    ],
    ["unknown schedule kind", { ...base, schedule: { kind: "weekly" } }, "schedule.kind"],
    ["wildcard subject *", { ...base, target: { subject: "a.*.c" } }, "target.subject"],
    ["wildcard subject >", { ...base, target: { subject: "a.>" } }, "target.subject"],
    ["$JS subject", { ...base, target: { subject: "$JS.API.STREAM.DELETE.X" } }, "target.subject"],
    ["$KV subject", { ...base, target: { subject: "$KV.bucket.key" } }, "target.subject"],
    ["_INBOX subject", { ...base, target: { subject: "_INBOX.abc" } }, "target.subject"],
    ["a service's inbox", { ...base, target: { subject: "_INBOX_router.abc" } }, "target.subject"],
    ["dead-letter subject", { ...base, target: { subject: "dbplane.dlq.router.x.y" } }, "target.subject"],
    ["empty token", { ...base, target: { subject: "a..b" } }, "target.subject"],
    ["trailing dot", { ...base, target: { subject: "a.b." } }, "target.subject"],
    ["subject with space", { ...base, target: { subject: "a b" } }, "target.subject"],
    ["subject of 256 characters", { ...base, target: { subject: "a".repeat(256) } }, "target.subject"],
    [
      "Nats- header",
      { ...base, target: { subject: "a", headers: { "Nats-Msg-Id": "x" } } },
      "target.headers.Nats-Msg-Id",
    ],
    [
      "ce- header",
      { ...base, target: { subject: "a", headers: { "CE-Type": "x" } } },
      "target.headers.CE-Type",
    ],
    [
      "header value with newline",
      { ...base, target: { subject: "a", headers: { x: "a\nb" } } },
      "target.headers.x",
    ],
    ["non-JSON payload", { ...base, target: { subject: "a", payload: new Date() } }, "target.payload"],
    [
      "payload over the limit",
      { ...base, target: { subject: "a", payload: "x".repeat(JobLimits.maxPayloadBytes) } },
      "target.payload",
    ],
    ["unknown misfire", { ...base, misfire: "later" }, "misfire"],
    ["maxLateness below a second", { ...base, maxLatenessMs: 999 }, "maxLatenessMs"],
    ["maxRuns 0", { ...base, maxRuns: 0 }, "maxRuns"],
    [
      "endAt before startAt",
      { ...base, startAt: "2030-01-02T00:00:00Z", endAt: "2030-01-01T00:00:00Z" },
      "endAt",
    ],
    ["unknown field", { ...base, retries: 3 }, ""],
  ])("refuses %s, naming the field", (_name, input, field) => {
    expect(fieldsOf(input)).toContain(field);
  });

  it("lists every problem at once", () => {
    const fields = fieldsOf({ id: "", schedule: { kind: "every", everyMs: 5 }, target: { subject: "a.*" } });
    expect(fields).toEqual(expect.arrayContaining(["id", "schedule.everyMs", "target.subject"]));
  });
});

describe("checkSchedulable (time-relative, with the database's now)", () => {
  const now = new Date("2026-06-01T12:00:00Z");

  it("refuses an `at` more than maxLatenessMs in the past, naming schedule.at", () => {
    const job = parseJobDefinition({ ...base, schedule: { kind: "at", at: "2026-06-01T11:58:59.999Z" } });
    expect(() => checkSchedulable(job, now)).toThrowError(
      expect.objectContaining({ issues: [expect.objectContaining({ field: "schedule.at" })] }),
    );
  });

  it("accepts an `at` just within maxLatenessMs: it fires late rather than being lost", () => {
    const job = parseJobDefinition({ ...base, schedule: { kind: "at", at: "2026-06-01T11:59:00Z" } });
    expect(checkSchedulable(job, now)).toEqual(new Date("2026-06-01T11:59:00Z"));
  });

  it("refuses a window that is over (endAt) and a cron that never matches (schedule.expression)", () => {
    const over = parseJobDefinition({ ...base, endAt: "2026-06-01T00:00:00Z" });
    expect(() => checkSchedulable(over, now)).toThrowError(
      expect.objectContaining({ issues: [expect.objectContaining({ field: "endAt" })] }),
    );
    const never = parseJobDefinition({ ...base, schedule: { kind: "cron", expression: "0 0 30 2 *" } });
    expect(() => checkSchedulable(never, now)).toThrowError(
      expect.objectContaining({ issues: [expect.objectContaining({ field: "schedule.expression" })] }),
    );
  });

  it("returns the first occurrence of a cron job in its zone", () => {
    const job = parseJobDefinition(base);
    expect(checkSchedulable(job, now)).toEqual(new Date("2026-06-02T00:00:00Z")); // 02:00 CEST
  });
});
