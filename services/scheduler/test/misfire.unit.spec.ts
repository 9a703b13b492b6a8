import { describe, expect, it } from "vitest";
import type { JobDefinitionInput } from "../src/domain/job-definition.ts";
import { parseJobDefinition } from "../src/domain/job-validation.ts";
import { JobLimits } from "../src/domain/limits.ts";
import { fireDeadline, isOverdue, resolveMisfire } from "../src/domain/misfire.ts";

// An every-10-s job with maxLateness 5 s; the scheduler was down from 00:00:00 to 00:00:42.5
// (the database's now). Overdue (more than 5 s late): 00:00:00, :10, :20, :30. Within lateness:
// none (00:00:40 is 2.5 s late, so it fires normally). Next in the future: 00:00:50.
const now = new Date("2026-01-01T00:00:42.500Z");
const nextRunAt = new Date("2026-01-01T00:00:00Z");
const make = (misfire: "skip" | "once" | "all", over: Partial<JobDefinitionInput> = {}) =>
  parseJobDefinition({
    id: "j",
    schedule: { kind: "every", everyMs: 10_000 },
    target: { subject: "a.b" },
    misfire,
    maxLatenessMs: 5_000,
    ...over,
  });
const iso = (ds: readonly Date[]) => ds.map((x) => x.toISOString().slice(11, 19));

describe("misfire resolution", () => {
  it("an occurrence within maxLateness is not overdue and fires, whatever the policy", () => {
    for (const policy of ["skip", "once", "all"] as const) {
      const plan = resolveMisfire(make(policy), {
        nextRunAt: new Date("2026-01-01T00:00:40Z"),
        runsCount: 0,
        now,
      });
      expect(plan).toMatchObject({ catchUp: [], missed: [], missedTotal: 0 });
      expect(plan.nextRunAt?.toISOString()).toBe("2026-01-01T00:00:40.000Z");
      expect(plan.fireBy?.toISOString()).toBe("2026-01-01T00:00:45.000Z");
    }
  });

  it("skip: records every overdue occurrence missed and continues with the one still in time", () => {
    const plan = resolveMisfire(make("skip"), { nextRunAt, runsCount: 0, now });
    expect(iso(plan.missed)).toEqual(["00:00:00", "00:00:10", "00:00:20", "00:00:30"]);
    expect(plan.catchUp).toEqual([]);
    expect(plan.missedTotal).toBe(4);
    expect(plan.nextRunAt?.toISOString()).toBe("2026-01-01T00:00:40.000Z");
  });

  it("once: fires the most recent overdue occurrence, records the earlier ones missed", () => {
    const plan = resolveMisfire(make("once"), { nextRunAt, runsCount: 0, now });
    expect(iso(plan.catchUp)).toEqual(["00:00:30"]);
    expect(iso(plan.missed)).toEqual(["00:00:00", "00:00:10", "00:00:20"]);
    expect(plan.nextRunAt?.toISOString()).toBe("2026-01-01T00:00:30.000Z");
    // A catch-up is late by definition: its deadline runs from the decision, not from its time.
    expect(plan.fireBy?.toISOString()).toBe("2026-01-01T00:00:47.500Z");
  });

  it("all: fires every overdue occurrence, oldest first", () => {
    const plan = resolveMisfire(make("all"), { nextRunAt, runsCount: 0, now });
    expect(iso(plan.catchUp)).toEqual(["00:00:00", "00:00:10", "00:00:20", "00:00:30"]);
    expect(plan.missed).toEqual([]);
    expect(plan.nextRunAt?.toISOString()).toBe("2026-01-01T00:00:00.000Z");
  });

  it(`all: is capped at ${JobLimits.misfireAllCap}; the older overdue occurrences are missed`, () => {
    const job = make("all", { schedule: { kind: "every", everyMs: 1_000 } });
    const plan = resolveMisfire(job, { nextRunAt, runsCount: 0, now: new Date("2026-01-01T01:00:05Z") });
    // Overdue: 00:00:00 … 00:59:59 (3,600); the latest 100 fire.
    expect(plan.catchUp).toHaveLength(JobLimits.misfireAllCap);
    expect(plan.catchUp[0]?.toISOString()).toBe("2026-01-01T00:58:20.000Z");
    expect(plan.missedTotal).toBe(3_600 - JobLimits.misfireAllCap);
    expect(plan.missed).toHaveLength(JobLimits.missedDetailLimit);
    expect(plan.missed.at(-1)?.toISOString()).toBe("2026-01-01T00:58:19.000Z");
  });

  it("re-resolving from the first catch-up gives the same catch-ups (stable after a crash)", () => {
    const job = make("all");
    const first = resolveMisfire(job, { nextRunAt, runsCount: 0, now });
    const again = resolveMisfire(job, { nextRunAt: first.catchUp[1] as Date, runsCount: 1, now });
    expect(iso(again.catchUp)).toEqual(iso(first.catchUp.slice(1)));
    expect(again.missed).toEqual([]);
  });

  it("catch-ups never exceed the runs left under maxRuns; a job with none left has no next", () => {
    const plan = resolveMisfire(make("all", { maxRuns: 3 }), { nextRunAt, runsCount: 1, now });
    expect(iso(plan.catchUp)).toEqual(["00:00:20", "00:00:30"]);
    expect(iso(plan.missed)).toEqual(["00:00:00", "00:00:10"]);
    const skip = resolveMisfire(make("skip", { maxRuns: 1 }), { nextRunAt, runsCount: 1, now });
    expect(skip.nextRunAt).toBeNull();
  });

  it("a one-shot that was overdue: skip misses it, once fires it", () => {
    const at = { schedule: { kind: "at", at: "2026-01-01T00:00:00Z" } } as const;
    expect(resolveMisfire(make("skip", at), { nextRunAt, runsCount: 0, now })).toMatchObject({
      missedTotal: 1,
      nextRunAt: null,
    });
    expect(iso(resolveMisfire(make("once", at), { nextRunAt, runsCount: 0, now }).catchUp)).toEqual([
      "00:00:00",
    ]);
  });

  it("cron: resolves in the job's zone (once over two missed Berlin days)", () => {
    const job = make("once", {
      schedule: { kind: "cron", expression: "0 2 * * *", timeZone: "Europe/Berlin" },
    });
    const plan = resolveMisfire(job, {
      nextRunAt: new Date("2026-03-28T01:00:00Z"),
      runsCount: 0,
      now: new Date("2026-03-29T12:00:00Z"),
    });
    expect(plan.catchUp.map((x) => x.toISOString())).toEqual(["2026-03-29T01:00:00.000Z"]);
    expect(plan.missed.map((x) => x.toISOString())).toEqual(["2026-03-28T01:00:00.000Z"]);
  });

  it("isOverdue / fireDeadline: exactly maxLateness late still fires", () => {
    const job = make("skip");
    expect(isOverdue(job, new Date("2026-01-01T00:00:37.500Z"), now)).toBe(false);
    expect(isOverdue(job, new Date("2026-01-01T00:00:37.499Z"), now)).toBe(true);
    expect(fireDeadline(job, nextRunAt).toISOString()).toBe("2026-01-01T00:00:05.000Z");
  });
});
