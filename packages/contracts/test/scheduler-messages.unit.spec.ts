import { describe, expect, it } from "vitest";
import {
  cancelJob,
  jobFired,
  jobMissed,
  MAX_JSON_DEPTH,
  parseMessageData,
  type ScheduleJob,
  scheduleJob,
} from "../src/index.ts";
import { expectRejected } from "./payload-check.ts";

/** Arrays `depth` levels deep. */
const nested = (depth: number): unknown => (depth === 0 ? 1 : [nested(depth - 1)]);

const target = { subject: "dbplane.cmd.provisioner.run-backup", payload: { name: "orders", backupId: "b1" } };

describe("scheduler messages", () => {
  it("accepts a payload nested MAX_JSON_DEPTH deep", () => {
    const job = {
      id: "deep",
      schedule: { kind: "every", everyMs: 60_000 },
      target: { ...target, payload: nested(MAX_JSON_DEPTH) },
    };
    expect(parseMessageData(scheduleJob, job).target).toMatchObject({ payload: nested(MAX_JSON_DEPTH) });
  });

  it("schedule-job accepts each schedule kind and applies the scheduler's defaults", () => {
    const cron: ScheduleJob = parseMessageData(scheduleJob, {
      id: "nightly-backup",
      schedule: { kind: "cron", expression: "0 3 * * *" },
      target,
    });
    expect(cron.schedule).toEqual({ kind: "cron", expression: "0 3 * * *", timeZone: "UTC" });
    expect(cron.misfire).toBe("once");
    expect(cron.maxLatenessMs).toBe(60_000);
    const every = {
      id: "sweep",
      schedule: { kind: "every", everyMs: 60_000, phaseMs: 5_000 },
      target: {
        subject: "user.jobs.sweep",
        payload: [1, "two", null, { three: true }],
        headers: { "x-team": "a" },
      },
      misfire: "all",
      maxLatenessMs: 1000,
      startAt: "2026-01-01T00:00:00Z",
      endAt: "2026-02-01T00:00:00Z",
      maxRuns: 10,
    };
    expect(parseMessageData(scheduleJob, every)).toEqual({
      ...every,
      target: { kind: "nats", ...every.target },
    });
    const at = {
      id: "once",
      schedule: { kind: "at", at: "2026-01-01T12:00:00+02:00" },
      target,
      misfire: "once",
    };
    expect(parseMessageData(scheduleJob, at)).toEqual({
      ...at,
      target: { kind: "nats", ...target },
      maxLatenessMs: 60_000,
    });
    const bare = parseMessageData(scheduleJob, {
      id: "bare",
      schedule: { kind: "every", everyMs: 5_000 },
      target: { subject: "a.b" },
    });
    expect(bare.schedule).toEqual({ kind: "every", everyMs: 5_000, phaseMs: 0 });
    expect(bare.target).toEqual({ kind: "nats", subject: "a.b", payload: null });
    const berlin = { kind: "cron", expression: "@daily", timeZone: "Europe/Berlin" };
    expect(parseMessageData(scheduleJob, { id: "j", schedule: berlin, target }).schedule).toEqual(berlin);
  });

  const job = { id: "j", schedule: { kind: "every", everyMs: 1000 }, target };

  it.each([
    [{ ...job, id: "has space" }, "id"],
    [{ ...job, schedule: { kind: "weekly" } }, "schedule.kind"],
    [{ ...job, schedule: { kind: "at", at: "tomorrow" } }, "schedule.at"],
    [{ ...job, schedule: { kind: "every", everyMs: 10 } }, "schedule.everyMs"],
    [{ ...job, schedule: { kind: "every", everyMs: 1000, phaseMs: 1000 } }, "schedule.phaseMs"],
    [
      { ...job, schedule: { kind: "cron", expression: "* * * * *", timeZone: "Mars/Olympus" } },
      "schedule.timeZone",
    ],
    [{ ...job, schedule: { kind: "cron", expression: "" } }, "schedule.expression"],
    [{ ...job, target: { ...target, subject: "dbplane.cmd.>" } }, "target.subject"],
    [{ ...job, id: "backup:nightly" }, "id"],
    [{ ...job, schedule: { kind: "every", everyMs: 999 } }, "schedule.everyMs"],
    [{ ...job, schedule: { kind: "at", at: "2026-02-30T00:00:00Z" } }, "schedule.at"],
    [{ ...job, schedule: { kind: "cron", expression: "* * *" } }, "schedule.expression"],
    [
      { ...job, schedule: { kind: "cron", expression: "* * * * *", timeZone: "+05:30" } },
      "schedule.timeZone",
    ],
    [{ ...job, target: { ...target, subject: "$JS.API.STREAM.NAMES" } }, "target.subject"],
    [{ ...job, target: { ...target, subject: "a..b" } }, "target.subject"],
    [{ ...job, target: { ...target, payload: "x".repeat(70_000) } }, "target.payload"],
    [{ ...job, maxLatenessMs: 999 }, "maxLatenessMs"],
    [{ ...job, target: { ...target, payload: { when: new Date() } } }, "target.payload"],
    [{ ...job, target: { ...target, payload: Number.NaN } }, "target.payload"],
    // MAX_JSON_DEPTH + 1 levels: a recursive reader must not be made to overflow its stack.
    [{ ...job, target: { ...target, payload: nested(MAX_JSON_DEPTH + 1) } }, "target.payload"],
    [{ ...job, target: { ...target, headers: { "ce-id": "forged" } } }, "target.headers.ce-id"],
    [{ ...job, target: { ...target, headers: { "Nats-Msg-Id": "forged" } } }, "target.headers.Nats-Msg-Id"],
    [{ ...job, misfire: "later" }, "misfire"],
    [{ ...job, maxRuns: 0 }, "maxRuns"],
    [{ ...job, startAt: "2026-02-01T00:00:00Z", endAt: "2026-01-01T00:00:00Z" }, "endAt"],
  ])("schedule-job rejects %j at %j", (data, path) => {
    expectRejected(scheduleJob, data, path);
  });

  it("cancel-job, job.fired and job.missed", () => {
    expect(parseMessageData(cancelJob, { id: "j" })).toEqual({ id: "j" });
    const fired = {
      jobId: "j",
      scheduledAt: "2026-01-01T00:00:00.000Z",
      firedAt: "2026-01-01T00:00:00.012Z",
      lateMs: 12,
      targetSubject: "dbplane.cmd.provisioner.run-backup",
      messageSeq: 1042,
    };
    expect(parseMessageData(jobFired, fired)).toEqual(fired);
    expectRejected(jobFired, { ...fired, lateMs: -1 }, "lateMs");
    const { targetSubject: _subject, messageSeq: _seq, ...common } = fired;
    const webhook = { ...common, targetUrl: "https://hooks.example.com/run" };
    expect(parseMessageData(jobFired, webhook)).toEqual(webhook);
    const missed = { jobId: "j", scheduledAt: fired.scheduledAt, reason: "later than maxLatenessMs" };
    expect(parseMessageData(jobMissed, missed)).toEqual(missed);
    expectRejected(jobMissed, { ...missed, reason: "" }, "reason");
  });
});
