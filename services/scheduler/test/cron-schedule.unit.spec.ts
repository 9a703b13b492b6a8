import { describe, expect, it } from "vitest";
import { parseJobDefinition } from "../src/domain/job-validation.ts";
import { nextOccurrence, occurrencesBetween } from "../src/domain/occurrences.ts";

function cronJob(expression: string, timeZone: string) {
  return parseJobDefinition({
    id: "c",
    schedule: { kind: "cron", expression, timeZone },
    target: { subject: "a.b" },
  });
}

function iso(dates: readonly (Date | null)[]): (string | null)[] {
  return dates.map((d) => d?.toISOString() ?? null);
}

function nextN(expression: string, timeZone: string, from: string, n: number): (string | null)[] {
  const job = cronJob(expression, timeZone);
  const out: (Date | null)[] = [];
  let after: Date | null = new Date(from);
  for (let i = 0; i < n && after; i++) {
    after = nextOccurrence(job, after);
    out.push(after);
  }
  return iso(out);
}

describe("cron DST in Europe/Berlin (see the doc comment of src/domain/cron-schedule.ts)", () => {
  it("spring-forward gap 2026-03-29: `0 2 * * *` fires once at 03:00 CEST, the first valid instant after the gap", () => {
    expect(nextN("0 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", 4)).toEqual([
      "2026-03-28T01:00:00.000Z", // 02:00 CET
      "2026-03-29T01:00:00.000Z", // 02:00 does not exist: 03:00 CEST, once
      "2026-03-30T00:00:00.000Z", // 02:00 CEST
      "2026-03-31T00:00:00.000Z",
    ]);
  });

  it("fall-back overlap 2026-10-25: `0 2 * * *` fires exactly once, at the first 02:00 (CEST)", () => {
    expect(nextN("0 2 * * *", "Europe/Berlin", "2026-10-23T12:00:00Z", 4)).toEqual([
      "2026-10-24T00:00:00.000Z", // 02:00 CEST
      "2026-10-25T00:00:00.000Z", // first 02:00 (CEST); the second 02:00 (CET, 01:00Z) does not fire
      "2026-10-26T01:00:00.000Z", // 02:00 CET
      "2026-10-27T01:00:00.000Z",
    ]);
    // Asked from inside the overlap, after the first 02:00, it does not fire at the second one.
    expect(nextN("0 2 * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", 1)).toEqual([
      "2026-10-26T01:00:00.000Z",
    ]);
  });

  it("spring-forward gap: interval job `*/30 * * * *` skips the wall times that do not exist, keeping real-time rhythm", () => {
    expect(nextN("*/30 * * * *", "Europe/Berlin", "2026-03-29T00:10:00Z", 4)).toEqual([
      "2026-03-29T00:30:00.000Z", // 01:30 CET
      "2026-03-29T01:00:00.000Z", // 03:00 CEST (02:00 and 02:30 do not exist)
      "2026-03-29T01:30:00.000Z",
      "2026-03-29T02:00:00.000Z",
    ]);
  });

  it("fall-back overlap: interval job `*/30 * * * *` runs on both passes of the repeated hour", () => {
    expect(nextN("*/30 * * * *", "Europe/Berlin", "2026-10-24T23:50:00Z", 5)).toEqual([
      "2026-10-25T00:00:00.000Z", // 02:00 CEST
      "2026-10-25T00:30:00.000Z", // 02:30 CEST
      "2026-10-25T01:00:00.000Z", // 02:00 CET
      "2026-10-25T01:30:00.000Z", // 02:30 CET
      "2026-10-25T02:00:00.000Z", // 03:00 CET
    ]);
  });
});

describe("cron next occurrences in several zones", () => {
  it.each([
    [
      "UTC",
      "UTC",
      "0 9 * * *",
      "2026-01-01T10:00:00Z",
      ["2026-01-02T09:00:00.000Z", "2026-01-03T09:00:00.000Z"],
    ],
    [
      "Asia/Kolkata (+05:30, no DST)",
      "Asia/Kolkata",
      "0 9 * * *",
      "2026-01-01T00:00:00Z",
      ["2026-01-01T03:30:00.000Z", "2026-01-02T03:30:00.000Z"],
    ],
    // US DST starts 2026-03-08: 09:00 EST is 14:00Z, 09:00 EDT is 13:00Z.
    [
      "America/New_York across the March change",
      "America/New_York",
      "0 9 * * *",
      "2026-03-07T00:00:00Z",
      ["2026-03-07T14:00:00.000Z", "2026-03-08T13:00:00.000Z", "2026-03-09T13:00:00.000Z"],
    ],
    // 2026-03-08 02:30 does not exist in New York: a fixed-time job runs at 03:00 EDT (07:00Z).
    [
      "America/New_York gap",
      "America/New_York",
      "30 2 * * *",
      "2026-03-07T12:00:00Z",
      ["2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z"],
    ],
    // Lord Howe shifts by 30 minutes: +11 in summer, +10:30 in winter; DST ends 2026-04-05 02:00 → 01:30.
    [
      "Australia/Lord_Howe across the April change",
      "Australia/Lord_Howe",
      "0 2 * * *",
      "2026-04-03T00:00:00Z",
      ["2026-04-03T15:00:00.000Z", "2026-04-04T15:30:00.000Z", "2026-04-05T15:30:00.000Z"],
    ],
    // DST starts 2026-10-04 02:00 → 02:30: the 02:00 run moves to the end of the 30-minute gap.
    [
      "Australia/Lord_Howe 30-minute gap",
      "Australia/Lord_Howe",
      "0 2 * * *",
      "2026-10-02T00:00:00Z",
      ["2026-10-02T15:30:00.000Z", "2026-10-03T15:30:00.000Z", "2026-10-04T15:00:00.000Z"],
    ],
    [
      "6-field seconds cron",
      "UTC",
      "*/15 * * * * *",
      "2026-01-01T00:00:07.500Z",
      ["2026-01-01T00:00:15.000Z", "2026-01-01T00:00:30.000Z"],
    ],
    [
      "day-of-month OR day-of-week (Vixie semantics)",
      "UTC",
      "0 0 13 * 5",
      "2026-02-01T00:00:00Z",
      ["2026-02-06T00:00:00.000Z", "2026-02-13T00:00:00.000Z", "2026-02-20T00:00:00.000Z"],
    ],
  ])("%s", (_name, zone, expression, from, expected) => {
    expect(nextN(expression, zone, from, expected.length)).toEqual(expected);
  });

  it("occurrencesBetween is [from, to): an occurrence at `from` is included, one at `to` is not", () => {
    const job = cronJob("*/10 * * * * *", "UTC");
    const list = occurrencesBetween(
      job,
      new Date("2026-01-01T00:00:00Z"),
      new Date("2026-01-01T00:00:30Z"),
      10,
    );
    expect(iso(list)).toEqual([
      "2026-01-01T00:00:00.000Z",
      "2026-01-01T00:00:10.000Z",
      "2026-01-01T00:00:20.000Z",
    ]);
    expect(
      occurrencesBetween(job, new Date("2026-01-01T00:00:00Z"), new Date("2026-01-02T00:00:00Z"), 2),
    ).toHaveLength(2);
  });
});
