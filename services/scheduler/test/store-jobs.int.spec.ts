import type pg from "pg";
import { describe, expect, it } from "vitest";
import type { NatsTarget } from "../src/domain/job-definition.ts";
import { JobValidationError } from "../src/domain/job-validation.ts";
import { InvalidCursorError, JobQuotaError, JobStateConflictError } from "../src/store/errors.ts";
import { createSchedulerStore } from "../src/store/scheduler-store.ts";
import type { StoreFixture } from "./store-fixture.ts";
import { claimOptions, fileStoreFixture, job } from "./store-fixture.ts";

let f: StoreFixture;
fileStoreFixture((fixture) => {
  f = fixture;
});

describe("upsert", () => {
  it("creates, then is a no-op for the same definition, then updates a changed one", async () => {
    const def = job({ id: "up-1", schedule: { kind: "every", everyMs: 60_000 } });
    const created = await f.store.upsert(def);
    expect(created.outcome).toBe("created");
    expect(created.job).toMatchObject({
      id: "up-1",
      state: "active",
      runsCount: 0,
      version: 1,
      definition: def,
    });
    // The next occurrence comes from the database's clock, on the epoch-anchored grid.
    const now = await f.dbNow();
    expect(created.job.nextRunAt!.getTime() % 60_000).toBe(0);
    expect(created.job.nextRunAt!.getTime()).toBeGreaterThan(now.getTime() - 60_000);

    const same = await f.store.upsert(job({ id: "up-1", schedule: { kind: "every", everyMs: 60_000 } }));
    expect(same.outcome).toBe("unchanged");
    expect(same.job.version).toBe(1);

    const changed = await f.store.upsert({
      ...def,
      target: { ...(def.target as NatsTarget), payload: { n: 2 } },
    });
    expect(changed.outcome).toBe("updated");
    expect(changed.job.version).toBe(2);
    expect((changed.job.definition.target as NatsTarget).payload).toEqual({ n: 2 });
  });

  it("a new job saved by an owner is created without a transaction (one read, one insert)", async () => {
    // The pool as the store sees it, counting the clients it checks out for a transaction. pg's
    // own pool.query checks one out too, through the real pool, so it is not counted here.
    let transactions = 0;
    const pool = new Proxy(f.db.pool, {
      get(target, prop) {
        if (prop === "connect") {
          return () => {
            transactions++;
            return target.connect();
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as pg.Pool;
    const store = createSchedulerStore(pool, { schema: f.store.schema });
    const owner = { id: "someone", scopes: ["jobs:write"] };
    const created = await store.upsert(job({ id: "quick", schedule: { kind: "every", everyMs: 60_000 } }), {
      owner,
    });
    expect(created.outcome).toBe("created");
    expect(created.job.owner).toEqual(owner);
    expect(transactions).toBe(0);
    // The same again is found unchanged, also without one.
    const again = await store.upsert(job({ id: "quick", schedule: { kind: "every", everyMs: 60_000 } }), {
      owner,
    });
    expect(again.outcome).toBe("unchanged");
    expect(transactions).toBe(0);
  });

  it("refuses an `at` more than maxLateness in the past by the database's clock, naming schedule.at", async () => {
    const now = await f.dbNow();
    const past = new Date(now.getTime() - 61_000).toISOString();
    const err = await f.store
      .upsert(job({ id: "past", schedule: { kind: "at", at: past } }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobValidationError);
    expect((err as JobValidationError).issues).toEqual([expect.objectContaining({ field: "schedule.at" })]);
    expect(await f.store.get("past")).toBeNull();
  });

  it("two callers creating the same id at once: one creates, the other updates or finds it unchanged", async () => {
    const def = job({ id: "race", schedule: { kind: "every", everyMs: 5_000 } });
    const outcomes = await Promise.all([f.store.upsert(def), f.store.upsert(def), f.store.upsert(def)]);
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(["created", "unchanged", "unchanged"]);
  });

  it("re-upserting a completed job with a new definition revives it with a fresh run count", async () => {
    const now = await f.dbNow();
    const at = (ms: number) =>
      job({ id: "revive", schedule: { kind: "at", at: new Date(now.getTime() + ms).toISOString() } });
    await f.store.upsert(at(500));
    const { jobs } = await f.store.claimDue("o", claimOptions);
    const mine = jobs.find((j) => j.id === "revive")!;
    await f.store.complete(
      "o",
      [{ jobId: "revive", scheduledAt: mine.next!.scheduledAt, outcome: "fired" }],
      claimOptions,
    );
    expect(await f.store.get("revive")).toMatchObject({ state: "completed", runsCount: 1, nextRunAt: null });
    expect((await f.store.upsert(at(500))).outcome).toBe("unchanged");
    const revived = await f.store.upsert(at(60_000));
    expect(revived.job).toMatchObject({ state: "active", runsCount: 0 });
  });
});

describe("upsert of a batch", () => {
  const every = (id: string, everyMs = 60_000) => job({ id, schedule: { kind: "every", everyMs } });

  it("creates the new ids, finds the same definition unchanged and updates a changed one, in input order", async () => {
    const soon = new Date((await f.dbNow()).getTime() + 1_000).toISOString();
    await f.store.upsert(every("batch-same"));
    await f.store.upsert(job({ id: "batch-changed", schedule: { kind: "at", at: soon } }));
    const { jobs } = await f.store.claimDue("holder", claimOptions);
    expect(jobs.map((j) => j.id)).toContain("batch-changed");
    const owner = { id: "batcher", scopes: ["jobs:write"] };
    const results = await f.store.upsertMany(
      [every("batch-new-b"), every("batch-same"), every("batch-changed", 30_000), every("batch-new-a")],
      { owner },
    );
    expect(results.map((r) => [r.job.id, r.outcome])).toEqual([
      ["batch-new-b", "created"],
      ["batch-same", "updated"], // saved by no owner before: the owner changed
      ["batch-changed", "updated"],
      ["batch-new-a", "created"],
    ]);
    expect(results[0]!.job).toMatchObject({ state: "active", version: 1, owner, runsCount: 0 });
    expect(results[0]!.job.nextRunAt!.getTime() % 60_000).toBe(0);
    // A changed definition clears the claim, as a single upsert does.
    expect(await f.store.get("batch-changed")).toMatchObject({ claimedBy: null, version: 2 });
    const again = await f.store.upsertMany([every("batch-new-a"), every("batch-new-b")], { owner });
    expect(again.map((r) => r.outcome)).toEqual(["unchanged", "unchanged"]);
  });

  it("saves nothing when one job could never fire, naming jobs.<index>.<field>", async () => {
    const now = await f.dbNow();
    const past = job({
      id: "batch-past",
      schedule: { kind: "at", at: new Date(now.getTime() - 61_000).toISOString() },
    });
    const err = await f.store.upsertMany([every("batch-fine"), past]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobValidationError);
    expect((err as JobValidationError).issues).toEqual([
      expect.objectContaining({ field: "jobs.1.schedule.at" }),
    ]);
    expect(await f.store.get("batch-fine")).toBeNull();
  });

  it("refuses an id given twice", async () => {
    const err = await f.store
      .upsertMany([every("batch-twice"), every("batch-twice")])
      .catch((e: unknown) => e);
    expect((err as JobValidationError).issues).toEqual([expect.objectContaining({ field: "jobs.1.id" })]);
    expect(await f.store.get("batch-twice")).toBeNull();
  });

  it("a capped owner's batch that would pass the cap is refused whole", async () => {
    const owner = { id: "capped-batcher", scopes: ["jobs:write"] };
    await f.store.upsertMany([every("cap-1")], { owner, maxJobsPerOwner: 3 });
    const err = await f.store
      .upsertMany([every("cap-2"), every("cap-3"), every("cap-4")], { owner, maxJobsPerOwner: 3 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobQuotaError);
    expect(await f.store.get("cap-2")).toBeNull();
    const fits = await f.store.upsertMany([every("cap-2"), every("cap-3")], { owner, maxJobsPerOwner: 3 });
    expect(fits.map((r) => r.outcome)).toEqual(["created", "created"]);
  });

  it("1,000 jobs at once", async () => {
    const tomorrow = new Date((await f.dbNow()).getTime() + 86_400_000).toISOString();
    const many = Array.from({ length: 1_000 }, (_, i) =>
      job({ id: `bulk-${i}`, schedule: { kind: "at", at: tomorrow } }),
    );
    const results = await f.store.upsertMany(many, { owner: { id: "bulk", scopes: [] } });
    expect(results.filter((r) => r.outcome === "created")).toHaveLength(1_000);
    expect(results[999]!.job.id).toBe("bulk-999");
  });
});

describe("pause, resume, cancel, trigger", () => {
  it("pause stops claims; resume recomputes from now; both are idempotent", async () => {
    await f.store.upsert(job({ id: "p", schedule: { kind: "every", everyMs: 1_000 } }));
    const paused = await f.store.pause("p");
    expect(paused).toMatchObject({ state: "paused", nextRunAt: null, claimedBy: null });
    expect((await f.store.pause("p"))?.version).toBe(paused?.version);
    const { jobs } = await f.store.claimDue("o-pause", { ...claimOptions, limit: 1000 });
    expect(jobs.map((j) => j.id)).not.toContain("p");
    // A paused job keeps being paused when its owner re-registers a changed definition.
    expect(
      (await f.store.upsert(job({ id: "p", schedule: { kind: "every", everyMs: 2_000 } }))).job.state,
    ).toBe("paused");
    const resumed = await f.store.resume("p");
    const now = await f.dbNow();
    expect(resumed?.state).toBe("active");
    expect(resumed!.nextRunAt!.getTime()).toBeGreaterThan(now.getTime() - 2_000);
  });

  it("cancel is final for pause/resume/trigger (409) and keeps the row; unknown ids give null", async () => {
    await f.store.upsert(job({ id: "c", schedule: { kind: "every", everyMs: 1_000 } }));
    expect(await f.store.cancel("c")).toMatchObject({ state: "cancelled", nextRunAt: null });
    expect(await f.store.cancel("c")).toMatchObject({ state: "cancelled" });
    await expect(f.store.resume("c")).rejects.toBeInstanceOf(JobStateConflictError);
    await expect(f.store.pause("c")).rejects.toBeInstanceOf(JobStateConflictError);
    await expect(f.store.trigger("c")).rejects.toBeInstanceOf(JobStateConflictError);
    expect(await f.store.pause("nope")).toBeNull();
    expect(await f.store.trigger("nope")).toBeNull();
    expect(await f.store.get("nope")).toBeNull();
  });

  it("trigger: an extra occurrence at the database's now (ms), pending until fired, not moving the schedule", async () => {
    await f.store.upsert(job({ id: "t", schedule: { kind: "every", everyMs: 3_600_000 } }));
    const before = await f.store.get("t");
    const first = await f.store.trigger("t");
    const again = await f.store.trigger("t");
    expect(again?.scheduledAt).toEqual(first?.scheduledAt);
    const { jobs } = await f.store.claimDue("o-trigger", { ...claimOptions, limit: 1000 });
    const claimed = jobs.find((j) => j.id === "t")!;
    expect(claimed.next).toBeNull();
    expect(claimed.trigger).toMatchObject({
      scheduledAt: first!.scheduledAt,
      manual: true,
      messageId: `t:${first!.scheduledAt.toISOString()}`,
    });
    const done = await f.store.complete(
      "o-trigger",
      [{ jobId: "t", scheduledAt: first!.scheduledAt, manual: true, outcome: "fired" }],
      claimOptions,
    );
    expect(done.outcomes[0]).toMatchObject({ accepted: true, recorded: true });
    const after = await f.store.get("t");
    expect(after).toMatchObject({
      triggerAt: null,
      runsCount: 0,
      claimedBy: null,
      nextRunAt: before!.nextRunAt,
    });
    const runs = await f.store.listRuns("t");
    expect(runs.items).toEqual([expect.objectContaining({ manual: true, outcome: "fired" })]);
    // A new trigger after the first one fired is a new occurrence.
    const third = await f.store.trigger("t");
    expect(third!.scheduledAt.getTime()).toBeGreaterThanOrEqual(first!.scheduledAt.getTime());
  });

  it("trigger works on a paused job, which stays paused", async () => {
    await f.store.upsert(job({ id: "tp", schedule: { kind: "every", everyMs: 1_000 } }));
    await f.store.pause("tp");
    const t = await f.store.trigger("tp");
    const { jobs } = await f.store.claimDue("o-tp", { ...claimOptions, limit: 1000 });
    expect(jobs.find((j) => j.id === "tp")?.trigger?.scheduledAt).toEqual(t?.scheduledAt);
  });
});

describe("list and runs paging", () => {
  it("pages jobs by id with an opaque cursor, filtered by state", async () => {
    for (let i = 0; i < 25; i++) {
      await f.store.upsert(
        job({ id: `page-${String(i).padStart(2, "0")}`, schedule: { kind: "every", everyMs: 60_000 } }),
      );
    }
    await f.store.pause("page-03");
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await f.store.list({ state: "active", limit: 7, cursor });
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const pageIds = seen.filter((id) => id.startsWith("page-"));
    expect(pageIds).toHaveLength(24);
    expect(pageIds).not.toContain("page-03");
    expect([...seen].sort()).toEqual(seen);
    expect((await f.store.list({ state: "paused" })).items.map((j) => j.id)).toContain("page-03");
    await expect(f.store.list({ cursor: "not-a-cursor" })).rejects.toBeInstanceOf(InvalidCursorError);
  });

  it("pages runs newest first", async () => {
    const now = await f.dbNow();
    await f.store.upsert(
      job({ id: "runs", schedule: { kind: "every", everyMs: 1_000 }, misfire: "skip", maxLatenessMs: 1_000 }),
    );
    // 30 s of downtime: every occurrence is recorded missed in one resolution.
    await f.rewind(
      "runs",
      new Date(Math.floor(now.getTime() / 1000) * 1000 - 30_000),
      new Date(now.getTime() - 29_000),
    );
    await f.store.claimDue("o-runs", { ...claimOptions, limit: 1000 });
    const all: Date[] = [];
    let cursor: string | undefined;
    do {
      const page = await f.store.listRuns("runs", { limit: 8, cursor });
      all.push(...page.items.map((r) => r.scheduledAt));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(all.length).toBeGreaterThanOrEqual(28);
    expect(all.map((d) => d.getTime())).toEqual([...all.map((d) => d.getTime())].sort((a, b) => b - a));
    expect(new Set(all.map((d) => d.getTime())).size).toBe(all.length);
    const jobCursor = (await f.store.list({ limit: 1 })).nextCursor!;
    await expect(f.store.listRuns("runs", { cursor: jobCursor })).rejects.toBeInstanceOf(InvalidCursorError);
  });
});
