import { describe, expect, it } from "vitest";
import type { JobDefinitionInput } from "../src/domain/job-definition.ts";
import { parseJobDefinition } from "../src/domain/job-validation.ts";
import { occurrenceMessageId } from "../src/domain/message-id.ts";
import {
  countOccurrences,
  firstOccurrence,
  latestOccurrencesBefore,
  nextOccurrence,
  occurrencesBetween,
} from "../src/domain/occurrences.ts";

const target = { subject: "a.b" };
const job = (over: Partial<JobDefinitionInput> & Pick<JobDefinitionInput, "schedule">) =>
  parseJobDefinition({ id: "j", target, ...over });
const d = (s: string) => new Date(s);

describe("every: anchored at the epoch plus phase, so replicas agree", () => {
  const every10 = job({ schedule: { kind: "every", everyMs: 10_000, phaseMs: 3_000 } });

  it.each([
    ["just before a grid point", "2026-01-01T00:00:12.999Z", "2026-01-01T00:00:13.000Z"],
    ["exactly on a grid point (strictly after)", "2026-01-01T00:00:13.000Z", "2026-01-01T00:00:23.000Z"],
    ["between points", "2026-01-01T00:00:17.250Z", "2026-01-01T00:00:23.000Z"],
  ])("next after %s", (_name, after, expected) => {
    expect(nextOccurrence(every10, d(after))?.toISOString()).toBe(expected);
  });

  it("is independent of when the job was created", () => {
    const a = nextOccurrence(every10, d("2026-01-01T00:00:00.001Z"));
    const b = occurrencesBetween(every10, d("2025-12-31T23:59:00Z"), d("2026-01-01T00:00:30Z"), 100);
    expect(b.map((x) => x.getTime())).toContain(a?.getTime());
    expect(new Set(b.map((x) => (x.getTime() - 3_000) % 10_000))).toEqual(new Set([0]));
  });
});

describe("window and run limit", () => {
  const windowed = job({
    schedule: { kind: "every", everyMs: 60_000 },
    startAt: "2026-01-01T00:00:30Z",
    endAt: "2026-01-01T00:03:00Z",
  });

  it("startAt is inclusive, endAt exclusive", () => {
    const all = occurrencesBetween(windowed, d("2025-12-31T00:00:00Z"), d("2026-01-02T00:00:00Z"), 100);
    expect(all.map((x) => x.toISOString())).toEqual(["2026-01-01T00:01:00.000Z", "2026-01-01T00:02:00.000Z"]);
    const onStart = job({ schedule: { kind: "every", everyMs: 60_000 }, startAt: "2026-01-01T00:01:00Z" });
    expect(firstOccurrence(onStart, d("2026-01-01T00:00:00Z"))?.toISOString()).toBe(
      "2026-01-01T00:01:00.000Z",
    );
    expect(nextOccurrence(windowed, d("2026-01-01T00:02:00Z"))).toBeNull();
  });

  it("maxRuns counts fired occurrences: no next once runsCount reaches it", () => {
    const limited = job({ schedule: { kind: "every", everyMs: 1_000 }, maxRuns: 3 });
    expect(nextOccurrence(limited, d("2026-01-01T00:00:00Z"), 2)?.toISOString()).toBe(
      "2026-01-01T00:00:01.000Z",
    );
    expect(nextOccurrence(limited, d("2026-01-01T00:00:00Z"), 3)).toBeNull();
    expect(
      occurrencesBetween(limited, d("2026-01-01T00:00:00Z"), d("2026-01-01T01:00:00Z"), 100, 1),
    ).toHaveLength(2);
  });
});

describe("at: a single instant", () => {
  const at = job({ schedule: { kind: "at", at: "2026-01-01T01:00:00.250+01:00" } });

  it("occurs once, at millisecond precision, whatever the offset it was written in", () => {
    expect(firstOccurrence(at, d("2025-12-31T00:00:00Z"))?.toISOString()).toBe("2026-01-01T00:00:00.250Z");
    expect(nextOccurrence(at, d("2026-01-01T00:00:00.250Z"))).toBeNull();
  });

  it("a new one-shot up to maxLatenessMs behind still starts with its instant; cron/every start at now", () => {
    expect(firstOccurrence(at, d("2026-01-01T00:00:59Z"))?.toISOString()).toBe("2026-01-01T00:00:00.250Z");
    expect(firstOccurrence(at, d("2026-01-01T00:01:00.251Z"))).toBeNull();
    const every = job({ schedule: { kind: "every", everyMs: 1_000 } });
    expect(firstOccurrence(every, d("2026-01-01T00:00:00.500Z"))?.toISOString()).toBe(
      "2026-01-01T00:00:01.000Z",
    );
  });
});

describe("looking back", () => {
  it("latestOccurrencesBefore returns the most recent ones in [notBefore, before), oldest first", () => {
    const every = job({ schedule: { kind: "every", everyMs: 1_000 } });
    const got = latestOccurrencesBefore(every, d("2026-01-01T00:00:10Z"), 3, d("2026-01-01T00:00:08Z"));
    expect(got.map((x) => x.toISOString())).toEqual(["2026-01-01T00:00:08.000Z", "2026-01-01T00:00:09.000Z"]);
    const cron = job({ schedule: { kind: "cron", expression: "0 2 * * *", timeZone: "Europe/Berlin" } });
    const days = latestOccurrencesBefore(cron, d("2026-03-30T12:00:00Z"), 2, d("2026-01-01T00:00:00Z"));
    expect(days.map((x) => x.toISOString())).toEqual([
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T00:00:00.000Z",
    ]);
  });

  it("countOccurrences is exact for intervals and bounded for cron", () => {
    const every = job({ schedule: { kind: "every", everyMs: 1_000 } });
    expect(countOccurrences(every, d("2026-01-01T00:00:00Z"), d("2026-01-02T00:00:00Z"), 10)).toEqual({
      count: 86_400,
      exact: true,
    });
    const cron = job({ schedule: { kind: "cron", expression: "* * * * * *" } });
    expect(countOccurrences(cron, d("2026-01-01T00:00:00Z"), d("2026-01-01T00:00:05Z"), 10)).toEqual({
      count: 5,
      exact: true,
    });
    expect(countOccurrences(cron, d("2026-01-01T00:00:00Z"), d("2026-01-02T00:00:00Z"), 10)).toEqual({
      count: 10,
      exact: false,
    });
  });
});

describe("occurrence message id", () => {
  it("is <jobId>:<scheduledAt in UTC with milliseconds>", () => {
    expect(occurrenceMessageId("backup.db-7", d("2026-03-29T03:00:00+02:00"))).toBe(
      "backup.db-7:2026-03-29T01:00:00.000Z",
    );
  });
});
