import { InvalidMessageDataError, parseMessageData, scheduleJob } from "@dbplane/contracts";
import { describe, expect, it } from "vitest";
import { JobValidationError, parseJobDefinition } from "../src/domain/job-validation.ts";

// The `schedule-job` command and `POST /v1/jobs` take the contract's schema; the domain's
// parseJobDefinition is the authority. They must agree on what is a job, field for field, so
// that a command the contract lets through is not refused by the scheduler (except for what
// only the scheduler can judge: cron values out of range, checked below).
const job = { id: "j", schedule: { kind: "every", everyMs: 60_000 }, target: { subject: "a.b" } };

const cases: [string, unknown][] = [
  ["minimal", job],
  ["every with phase", { ...job, schedule: { kind: "every", everyMs: 1_000, phaseMs: 999 } }],
  ["every below a second", { ...job, schedule: { kind: "every", everyMs: 999 } }],
  ["phase not below interval", { ...job, schedule: { kind: "every", everyMs: 1_000, phaseMs: 1_000 } }],
  [
    "cron 6 fields in Berlin",
    { ...job, schedule: { kind: "cron", expression: "*/10 * * * * *", timeZone: "Europe/Berlin" } },
  ],
  ["cron nickname", { ...job, schedule: { kind: "cron", expression: "@daily" } }],
  ["cron @reboot", { ...job, schedule: { kind: "cron", expression: "@reboot" } }],
  ["cron 3 fields", { ...job, schedule: { kind: "cron", expression: "* * *" } }],
  ["unknown zone", { ...job, schedule: { kind: "cron", expression: "* * * * *", timeZone: "Mars/Base" } }],
  ["offset zone", { ...job, schedule: { kind: "cron", expression: "* * * * *", timeZone: "+05:30" } }],
  ["at with offset", { ...job, schedule: { kind: "at", at: "2030-01-01T00:00:00.250+05:30" } }],
  ["at without zone", { ...job, schedule: { kind: "at", at: "2030-01-01T00:00:00" } }],
  ["at 30 February", { ...job, schedule: { kind: "at", at: "2030-02-30T00:00:00Z" } }],
  ["id with colon", { ...job, id: "a:b" }],
  ["id starting with a dot", { ...job, id: ".a" }],
  ["id of 128", { ...job, id: "a".repeat(128) }],
  ["id of 129", { ...job, id: "a".repeat(129) }],
  ["wildcard subject", { ...job, target: { subject: "a.*" } }],
  ["$KV subject", { ...job, target: { subject: "$KV.b.k" } }],
  ["_INBOX subject", { ...job, target: { subject: "_INBOX.x" } }],
  ["empty token", { ...job, target: { subject: "a..b" } }],
  ["space in subject", { ...job, target: { subject: "a b" } }],
  ["payload too large", { ...job, target: { subject: "a.b", payload: "x".repeat(70_000) } }],
  ["headers", { ...job, target: { subject: "a.b", headers: { "x-team": "a" } } }],
  ["reserved header", { ...job, target: { subject: "a.b", headers: { "ce-type": "x" } } }],
  ["header with newline", { ...job, target: { subject: "a.b", headers: { x: "a\nb" } } }],
  ["unknown field", { ...job, extra: 1 }],
  ["misfire all", { ...job, misfire: "all" }],
  ["lateness below a second", { ...job, maxLatenessMs: 999 }],
  ["lateness above a week", { ...job, maxLatenessMs: 7 * 24 * 3_600_000 + 1 }],
  ["window reversed", { ...job, startAt: "2030-02-01T00:00:00Z", endAt: "2030-01-01T00:00:00Z" }],
  ["maxRuns 0", { ...job, maxRuns: 0 }],
  ["retention in full", { ...job, retention: { count: 10, ageMs: 600_000 } }],
  ["retention empty", { ...job, retention: {} }],
  ["retention count 0", { ...job, retention: { count: 0 } }],
  ["retention age below 10 minutes", { ...job, retention: { ageMs: 599_999 } }],
  ["retention age above 3650 days", { ...job, retention: { ageMs: 3_650 * 86_400_000 + 1 } }],
  ["retention as a string", { ...job, retention: "count=10" }],
  ["retention unknown key", { ...job, retention: { days: 3 } }],
  ["nats target with its kind", { ...job, target: { kind: "nats", subject: "a.b" } }],
  ["unknown target kind", { ...job, target: { kind: "ftp", subject: "a.b" } }],
  ["http minimal", { ...job, target: { kind: "http", url: "https://hooks.example.com/x?token=1" } }],
  [
    "http in full",
    {
      ...job,
      target: {
        kind: "http",
        url: "http://example.com:8080/run",
        method: "PUT",
        headers: { authorization: "Bearer t" },
        body: { a: [1, null] },
        timeoutMs: 300_000,
        maxAttempts: 20,
        overlap: "buffer_one",
      },
    },
  ],
  [
    "http GET with a body",
    { ...job, target: { kind: "http", url: "https://e.com", method: "GET", body: 1 } },
  ],
  ["http ftp url", { ...job, target: { kind: "http", url: "ftp://e.com/x" } }],
  ["http relative url", { ...job, target: { kind: "http", url: "/x" } }],
  ["http url with credentials", { ...job, target: { kind: "http", url: "https://u:p@e.com/" } }],
  [
    "http timeout above 5 min",
    { ...job, target: { kind: "http", url: "https://e.com", timeoutMs: 300_001 } },
  ],
  ["http 21 attempts", { ...job, target: { kind: "http", url: "https://e.com", maxAttempts: 21 } }],
  ["http unknown overlap", { ...job, target: { kind: "http", url: "https://e.com", overlap: "queue" } }],
  [
    "http idempotency header",
    { ...job, target: { kind: "http", url: "https://e.com", headers: { "Idempotency-Key": "x" } } },
  ],
  ["http ce header", { ...job, target: { kind: "http", url: "https://e.com", headers: { "ce-id": "x" } } }],
  ["http subject field", { ...job, target: { kind: "http", url: "https://e.com", subject: "a.b" } }],
];

function contract(input: unknown): unknown {
  try {
    return parseMessageData(scheduleJob, input);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageDataError);
    return "refused";
  }
}

function domain(input: unknown): unknown {
  try {
    return parseJobDefinition(input);
  } catch (err) {
    expect(err).toBeInstanceOf(JobValidationError);
    return "refused";
  }
}

describe("schedule-job contract and the scheduler's job definition", () => {
  it.each(cases)("agree on %s (same verdict, same defaults)", (_name, input) => {
    expect(contract(input)).toEqual(domain(input));
  });

  it("a contract-valid definition parses the same in the domain after the contract's defaults", () => {
    const parsed = contract(job);
    expect(domain(parsed)).toEqual(parsed);
  });

  it("only the scheduler judges cron values: the contract passes `0 25 * * *`, the domain refuses it", () => {
    const input = { ...job, schedule: { kind: "cron", expression: "0 25 * * *" } };
    expect(contract(input)).not.toBe("refused");
    expect(domain(input)).toBe("refused");
  });
});
