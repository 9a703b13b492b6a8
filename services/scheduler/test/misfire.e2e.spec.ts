import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunRecord } from "../src/store/run-records.ts";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";

// The "stopped for 30 s" shortened: 1-second jobs with maxLatenessMs 1 s, and a stop of
// at least 5 s — several occurrences go overdue, which is all the policies look at.
const EVERY_MS = 1_000;
const MAX_LATENESS_MS = 1_000;
const DOWN_MS = 5_000;

let world: SchedulerWorld;
const runs: Record<string, RunRecord[]> = {};
let stoppedAt = 0;
let restartedAt = 0;

beforeAll(async () => {
  world = await createSchedulerWorld();
  const first = await world.startReplica();
  const token = world.token();
  for (const misfire of ["skip", "once", "all"]) {
    const res = await fetch(`${first.base}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        id: `mf-${misfire}`,
        schedule: { kind: "every", everyMs: EVERY_MS },
        target: { subject: world.targetSubject(misfire) },
        misfire,
        maxLatenessMs: MAX_LATENESS_MS,
      }),
    });
    expect(res.status).toBe(201);
  }
  await waitFor(async () => (await world.store.listRuns("mf-all")).items.length >= 2, {
    what: "runs before the stop",
  });
  expect(await first.stop("SIGTERM")).toBe(0);
  stoppedAt = (await world.dbNow()).getTime();
  await waitFor(async () => (await world.dbNow()).getTime() >= stoppedAt + DOWN_MS, {
    what: "the outage",
    timeoutMs: DOWN_MS + 5_000,
    intervalMs: 100,
  });
  restartedAt = (await world.dbNow()).getTime();
  await world.startReplica();
  // Until each job has fired two on-time occurrences after the restart.
  for (const misfire of ["skip", "once", "all"]) {
    runs[misfire] = await waitFor(
      async () => {
        const items = (await world.store.listRuns(`mf-${misfire}`, { limit: 1_000 })).items;
        const after = items.filter((r) => r.scheduledAt.getTime() > restartedAt && r.outcome === "fired");
        return after.length >= 2 && [...items].reverse();
      },
      { what: `runs of mf-${misfire} after the restart`, timeoutMs: 20_000 },
    );
  }
}, 90_000);
afterAll(() => world?.dispose());

/** Occurrences due while the scheduler was down and overdue by the time it came back. */
const overdue = (r: RunRecord) =>
  r.scheduledAt.getTime() < restartedAt - MAX_LATENESS_MS && r.scheduledAt.getTime() > stoppedAt;
const late = (r: RunRecord) => r.outcome === "fired" && (r.latenessMs ?? 0) > MAX_LATENESS_MS;

describe("misfire policies after the scheduler was stopped and restarted", () => {
  it("every occurrence is accounted for exactly once: fired or missed, no gap", async () => {
    for (const misfire of ["skip", "once", "all"]) {
      const times = runs[misfire]!.map((r) => r.scheduledAt.getTime());
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(EVERY_MS);
    }
  });

  it("skip: the overdue occurrences are missed; nothing fires late", () => {
    const r = runs.skip!;
    expect(r.filter(overdue).length).toBeGreaterThanOrEqual(3);
    expect(r.filter(overdue).every((x) => x.outcome === "missed")).toBe(true);
    expect(r.filter(late)).toEqual([]);
  });

  it("once: the latest overdue occurrence fires once, late; the earlier ones are missed", () => {
    const r = runs.once!;
    const caughtUp = r.filter(late);
    expect(caughtUp).toHaveLength(1);
    const missed = r.filter((x) => x.outcome === "missed");
    expect(missed.length).toBeGreaterThanOrEqual(2);
    expect(missed.every((x) => x.scheduledAt < caughtUp[0]!.scheduledAt)).toBe(true);
  });

  it("all: every overdue occurrence fires, late; none is missed", () => {
    const r = runs.all!;
    expect(r.filter((x) => x.outcome === "missed")).toEqual([]);
    expect(r.filter(late).length).toBeGreaterThanOrEqual(3);
  });

  it("the target stream holds each fired run's message, never twice", async () => {
    const fired = Object.values(runs)
      .flat()
      .filter((r) => r.outcome === "fired")
      .map((r) => `${r.jobId}:${r.scheduledAt.toISOString()}`);
    const inStream = (await world.readTarget()).map((m) => m.msgId);
    expect(new Set(inStream).size).toBe(inStream.length);
    expect(inStream).toEqual(expect.arrayContaining(fired));
  });
});
