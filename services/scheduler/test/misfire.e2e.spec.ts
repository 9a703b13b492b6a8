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

/**
 * The missed occurrences of a job's runs (oldest first), which a policy leaves as one block, and
 * the run right after them. Told by outcome, not by recorded lateness: an on-time occurrence
 * published just inside its deadline is recorded at its ack, which can be a little past
 * `maxLatenessMs` — late by the clock, yet no catch-up (CI run 4 of stop 24 counted one as such).
 */
function missedBlock(r: readonly RunRecord[]) {
  const first = r.findIndex((x) => x.outcome === "missed");
  const last = r.findLastIndex((x) => x.outcome === "missed");
  return {
    block: first < 0 ? [] : r.slice(first, last + 1),
    before: r.slice(0, Math.max(first, 0)),
    next: r[last + 1],
  };
}

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
    // Nothing of the outage fired: every run after the stop, up to the schedule's resumption, is missed.
    const { block, before, next } = missedBlock(r);
    expect(block.every((x) => x.outcome === "missed")).toBe(true);
    expect(before.every((x) => x.scheduledAt.getTime() <= stoppedAt)).toBe(true);
    expect(next?.outcome).toBe("fired");
  });

  it("once: the latest overdue occurrence fires once, late; the earlier ones are missed", () => {
    const r = runs.once!;
    const { block, before, next } = missedBlock(r);
    expect(block.length).toBeGreaterThanOrEqual(2);
    expect(block.every((x) => x.outcome === "missed")).toBe(true);
    expect(before.every((x) => x.scheduledAt.getTime() <= stoppedAt)).toBe(true);
    // The catch-up: overdue when it was decided, so late past maxLatenessMs.
    expect(next?.outcome).toBe("fired");
    expect(next?.latenessMs).toBeGreaterThan(MAX_LATENESS_MS);
    // Once: of the occurrences surely overdue when the replica came back, at most that one fired.
    expect(r.filter((x) => overdue(x) && x.outcome === "fired").length).toBeLessThanOrEqual(1);
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
