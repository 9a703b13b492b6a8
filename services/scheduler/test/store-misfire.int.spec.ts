import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoreFixture } from "./store-fixture.ts";
import { claimOptions, completeOptions, createStoreFixture, job } from "./store-fixture.ts";

// The scheduler was down: a job every 15 s with maxLateness 5 s finds its next_run_at 40 s in
// the past. With N the database's now, its occurrences are N−40, N−25, N−10 (all more than 5 s
// late: overdue) and N+5 (the next one, beyond the 2 s horizon). The grid is placed from N so
// that no occurrence is within seconds of a boundary, whatever the test's own speed.
let f: StoreFixture;
beforeAll(async () => {
  f = await createStoreFixture();
});
afterAll(() => f.drop());

async function downFor40s(id: string, misfire: "skip" | "once" | "all") {
  const now = (await f.dbNow()).getTime();
  const phaseMs = (((now + 5_000) % 15_000) + 15_000) % 15_000;
  await f.store.upsert(
    job({ id, schedule: { kind: "every", everyMs: 15_000, phaseMs }, misfire, maxLatenessMs: 5_000 }),
  );
  const overdue = [now - 40_000, now - 25_000, now - 10_000].map((t) => new Date(t));
  await f.rewind(id, overdue[0]!, new Date(now - 35_000));
  return { overdue, next: new Date(now + 5_000) };
}

/** Fires whatever the store hands out for `id` until it stops, as a firing loop would. */
async function fireAll(owner: string, id: string, first: { next: { scheduledAt: Date } | null } | undefined) {
  const fired: Date[] = [];
  let c = first;
  while (c?.next) {
    fired.push(c.next.scheduledAt);
    const r = await f.store.complete(
      owner,
      [{ jobId: id, scheduledAt: c.next.scheduledAt, outcome: "fired" }],
      completeOptions,
    );
    c = r.continuing.find((j) => j.id === id);
  }
  return fired;
}

async function outcomes(id: string) {
  const runs = (await f.store.listRuns(id)).items;
  return {
    fired: runs
      .filter((r) => r.outcome === "fired")
      .map((r) => r.scheduledAt.getTime())
      .sort((a, b) => a - b),
    missed: runs
      .filter((r) => r.outcome === "missed")
      .map((r) => r.scheduledAt.getTime())
      .sort((a, b) => a - b),
  };
}

describe("misfire policies through the store (next_run_at 40 s in the past)", () => {
  it("skip: all three overdue occurrences are recorded missed; the job waits for N+5", async () => {
    const { overdue, next } = await downFor40s("skip", "skip");
    const claim = await f.store.claimDue("r", { ...claimOptions, limit: 10_000 });
    expect(claim.jobs.map((j) => j.id)).not.toContain("skip");
    expect(claim.missed).toContainEqual({ jobId: "skip", occurrences: overdue, total: 3 });
    expect(await outcomes("skip")).toEqual({ fired: [], missed: overdue.map((d) => d.getTime()) });
    expect(await f.store.get("skip")).toMatchObject({
      nextRunAt: next,
      missedCount: 3,
      runsCount: 0,
      claimedBy: null,
    });
  });

  it("once: the most recent overdue occurrence (N−10) fires once; the earlier two are missed", async () => {
    const { overdue, next } = await downFor40s("once", "once");
    const claim = await f.store.claimDue("r", { ...claimOptions, limit: 10_000 });
    const c = claim.jobs.find((j) => j.id === "once");
    expect(c?.next?.scheduledAt).toEqual(overdue[2]);
    // A catch-up's deadline runs from the decision, not from its (long past) scheduled time.
    expect(c!.next!.fireBy.getTime()).toBeGreaterThan(claim.dbNow.getTime());
    expect(claim.missed).toContainEqual({ jobId: "once", occurrences: overdue.slice(0, 2), total: 2 });
    expect(await fireAll("r", "once", c)).toEqual([overdue[2]]);
    expect(await outcomes("once")).toEqual({
      fired: [overdue[2]!.getTime()],
      missed: [overdue[0]!.getTime(), overdue[1]!.getTime()],
    });
    expect(await f.store.get("once")).toMatchObject({ nextRunAt: next, runsCount: 1, missedCount: 2 });
  });

  it("all: every overdue occurrence fires, oldest first, none missed", async () => {
    const { overdue, next } = await downFor40s("all", "all");
    const claim = await f.store.claimDue("r", { ...claimOptions, limit: 10_000 });
    expect(claim.missed.filter((m) => m.jobId === "all")).toEqual([]);
    expect(
      await fireAll(
        "r",
        "all",
        claim.jobs.find((j) => j.id === "all"),
      ),
    ).toEqual(overdue);
    expect(await outcomes("all")).toEqual({ fired: overdue.map((d) => d.getTime()), missed: [] });
    expect(await f.store.get("all")).toMatchObject({ nextRunAt: next, runsCount: 3, missedCount: 0 });
  });

  it("a survivor taking over after the lease applies the policy once more, without firing twice", async () => {
    const { overdue } = await downFor40s("takeover", "all");
    const first = (await f.store.claimDue("dies", { ...claimOptions, limit: 10_000 })).jobs.find(
      (j) => j.id === "takeover",
    )!;
    // "dies" fires the first catch-up and records it, then dies holding the claim.
    await f.store.complete(
      "dies",
      [{ jobId: "takeover", scheduledAt: first.next!.scheduledAt, outcome: "fired" }],
      completeOptions,
    );
    await f.expireClaim("takeover");
    const claim = await f.store.claimDue("survivor", { ...claimOptions, limit: 10_000 });
    const fired = await fireAll(
      "survivor",
      "takeover",
      claim.jobs.find((j) => j.id === "takeover"),
    );
    expect(fired).toEqual(overdue.slice(1));
    expect((await outcomes("takeover")).fired).toEqual(overdue.map((d) => d.getTime()));
  });

  it("an occurrence late by less than maxLateness is not a misfire: it is handed out as due", async () => {
    const now = await f.dbNow();
    await f.store.upsert(
      job({ id: "in-time", schedule: { kind: "every", everyMs: 60_000 }, misfire: "skip" }),
    );
    const late = new Date(now.getTime() - 20_000);
    await f.rewind("in-time", late, new Date(late.getTime() + 60_000));
    const claim = await f.store.claimDue("r", { ...claimOptions, limit: 10_000 });
    expect(claim.jobs.find((j) => j.id === "in-time")?.next?.scheduledAt).toEqual(late);
    expect(claim.missed.filter((m) => m.jobId === "in-time")).toEqual([]);
  });
});
