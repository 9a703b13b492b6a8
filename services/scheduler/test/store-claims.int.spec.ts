import pg from "pg";
import { describe, expect, it } from "vitest";
import type { NatsTarget } from "../src/domain/job-definition.ts";
import { createSchedulerStore } from "../src/store/scheduler-store.ts";
import type { StoreFixture } from "./store-fixture.ts";
import { claimOptions, completeOptions, fileStoreFixture, job } from "./store-fixture.ts";

let f: StoreFixture;
fileStoreFixture((fixture) => {
  f = fixture;
});

describe("claiming due jobs", () => {
  it("two replicas claiming 1,000 due jobs concurrently get disjoint sets that cover all", async () => {
    const now = await f.dbNow();
    const at = new Date(now.getTime() + 1_000).toISOString();
    const ids = Array.from({ length: 1_000 }, (_, i) => `burst-${i}`);
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(
        ids.slice(i, i + 50).map((id) => f.store.upsert(job({ id, schedule: { kind: "at", at } }))),
      );
    }
    // Separate pools, as two pods would have.
    const pools = [0, 1].map(() => new pg.Pool({ connectionString: f.db.url, max: 3 }));
    try {
      const claimAll = async (owner: string, pool: pg.Pool) => {
        const store = createSchedulerStore(pool, { schema: f.store.schema });
        const mine: string[] = [];
        for (;;) {
          const { jobs } = await store.claimDue(owner, { ...claimOptions, limit: 37 });
          if (jobs.length === 0) return mine;
          mine.push(...jobs.map((j) => j.id));
        }
      };
      const [a, b] = await Promise.all([claimAll("replica-a", pools[0]!), claimAll("replica-b", pools[1]!)]);
      const burstA = a.filter((id) => id.startsWith("burst-"));
      const burstB = b.filter((id) => id.startsWith("burst-"));
      expect(burstA.filter((id) => burstB.includes(id))).toEqual([]);
      expect(new Set([...burstA, ...burstB]).size).toBe(1_000);
      expect(burstA.length + burstB.length).toBe(1_000);
      const stats = await f.store.stats();
      expect(
        (stats.claimsByOwner["replica-a"] ?? 0) + (stats.claimsByOwner["replica-b"] ?? 0),
      ).toBeGreaterThanOrEqual(1_000);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it("a claimed occurrence carries its message id, deadline and the lease; jobs beyond the horizon are not claimed", async () => {
    const now = await f.dbNow();
    const soon = new Date(now.getTime() + 1_500);
    await f.store.upsert(
      job({ id: "soon", schedule: { kind: "at", at: soon.toISOString() }, maxLatenessMs: 4_000 }),
    );
    await f.store.upsert(
      job({ id: "later", schedule: { kind: "at", at: new Date(now.getTime() + 60_000).toISOString() } }),
    );
    const result = await f.store.claimDue("o-1", { ...claimOptions, limit: 10_000 });
    expect(result.jobs.map((j) => j.id)).toContain("soon");
    expect(result.jobs.map((j) => j.id)).not.toContain("later");
    const claimed = result.jobs.find((j) => j.id === "soon")!;
    expect(claimed.next).toEqual({
      scheduledAt: soon,
      fireBy: new Date(soon.getTime() + 4_000),
      messageId: `soon:${soon.toISOString()}`,
      manual: false,
    });
    expect(claimed.claimExpiresAt.getTime() - result.dbNow.getTime()).toBe(claimOptions.leaseMs);
    // Held: neither another owner nor the same one gets it again while the lease runs.
    expect(
      (await f.store.claimDue("o-2", { ...claimOptions, limit: 10_000 })).jobs.map((j) => j.id),
    ).not.toContain("soon");
    expect(
      (await f.store.claimDue("o-1", { ...claimOptions, limit: 10_000 })).jobs.map((j) => j.id),
    ).not.toContain("soon");
  });
});

describe("leases", () => {
  it("an expired lease is taken over by another owner; the old owner's completion is refused", async () => {
    const now = await f.dbNow();
    await f.store.upsert(job({ id: "lease", schedule: { kind: "every", everyMs: 1_000 } }));
    const a = (await f.store.claimDue("dead", { ...claimOptions, limit: 10_000 })).jobs.find(
      (j) => j.id === "lease",
    )!;
    expect(a.next).not.toBeNull();
    await f.expireClaim("lease"); // "dead" stopped renewing a lease ago
    const b = (await f.store.claimDue("survivor", { ...claimOptions, limit: 10_000 })).jobs.find(
      (j) => j.id === "lease",
    )!;
    expect(b.next?.messageId).toBe(a.next?.messageId);

    const stale = await f.store.complete(
      "dead",
      [{ jobId: "lease", scheduledAt: a.next!.scheduledAt, outcome: "fired" }],
      completeOptions,
    );
    expect(stale.outcomes).toEqual([expect.objectContaining({ accepted: false, recorded: false })]);
    expect(await f.store.renewClaims("dead", 15_000)).not.toContain("lease");

    const ok = await f.store.complete(
      "survivor",
      [{ jobId: "lease", scheduledAt: b.next!.scheduledAt, outcome: "fired" }],
      completeOptions,
    );
    expect(ok.outcomes).toEqual([expect.objectContaining({ accepted: true, recorded: true })]);
    const stored = await f.store.get("lease");
    expect(stored).toMatchObject({ runsCount: 1, claimedBy: "survivor" });
    expect(stored!.nextRunAt!.getTime()).toBe(b.next!.scheduledAt.getTime() + 1_000);
    expect(now.getTime()).toBeLessThan(stored!.nextRunAt!.getTime());
  });

  it("renewing locks the claims in id order, as a completion does: the two never deadlock", async () => {
    // Enough claims for a hash join (rows locked in the table's order, not the ids'), stored in
    // descending id order, and asked for in descending order too: the old renewal locked from
    // the highest id down whichever plan it took. Seen in bench/scheduler as "deadlock detected".
    const N = 3_000;
    const ids = Array.from({ length: N }, (_, i) => `order-${String(N - i).padStart(5, "0")}`);
    const at = new Date((await f.dbNow()).getTime() + 1_000).toISOString();
    const defs = ids.map((id) => JSON.stringify(job({ id, schedule: { kind: "at", at } })));
    await f.db.pool.query(
      `INSERT INTO "${f.db.name}".jobs (id, definition, state, next_run_at, next_fire_by, claimed_by, claim_expires_at)
       SELECT u.id, u.def::jsonb, 'active', $3::timestamptz, $3::timestamptz + interval '1 minute', 'orderly', now() + interval '15 seconds'
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(id, def, n) ORDER BY u.n`,
      [ids, defs, at],
    );
    const [lowest, highest] = [ids.at(-1)!, ids[0]!];
    const completion = await f.db.pool.connect();
    try {
      await completion.query("BEGIN");
      await completion.query(`SELECT id FROM "${f.db.name}".jobs WHERE id = $1 FOR UPDATE`, [lowest]);
      const renewal = f.store.renewClaims("orderly", 15_000, ids).catch((err: unknown) => err);
      // Let the renewal reach its wait: on the lowest id holding nothing, or (the old way) holding the rest.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await completion.query(`SELECT id FROM "${f.db.name}".jobs WHERE id = $1 FOR UPDATE`, [highest]);
      await completion.query("COMMIT");
      const renewed = await renewal;
      expect(Array.isArray(renewed) ? renewed.length : renewed).toBe(N);
    } finally {
      await completion.query("ROLLBACK").catch(() => undefined);
      completion.release();
      await f.db.pool.query(`DELETE FROM "${f.db.name}".jobs WHERE id LIKE 'order-%'`);
    }
  });

  it("renew extends only the owner's own claims; release hands them back at once", async () => {
    const now = await f.dbNow();
    await f.store.upsert(
      job({ id: "renew", schedule: { kind: "at", at: new Date(now.getTime() + 1_000).toISOString() } }),
    );
    await f.store.claimDue("holder", { ...claimOptions, limit: 10_000 });
    const held = await f.store.renewClaims("holder", 30_000, ["renew"]);
    expect(held).toEqual(["renew"]);
    const stored = await f.store.get("renew");
    expect(stored!.claimExpiresAt!.getTime() - now.getTime()).toBeGreaterThanOrEqual(30_000);
    expect(await f.store.renewClaims("someone-else", 30_000, ["renew"])).toEqual([]);
    expect(await f.store.releaseClaims("holder", ["renew"])).toBe(1);
    expect(
      (await f.store.claimDue("next-holder", { ...claimOptions, limit: 10_000 })).jobs.map((j) => j.id),
    ).toContain("renew");
  });

  it("changing a job clears its claim: the holder's completion of the old occurrence is refused", async () => {
    const def = job({ id: "changed", schedule: { kind: "every", everyMs: 1_000 } });
    await f.store.upsert(def);
    const c = (await f.store.claimDue("h", { ...claimOptions, limit: 10_000 })).jobs.find(
      (j) => j.id === "changed",
    )!;
    await f.store.upsert({ ...def, target: { ...(def.target as NatsTarget), payload: "new" } });
    const r = await f.store.complete(
      "h",
      [{ jobId: "changed", scheduledAt: c.next!.scheduledAt, outcome: "fired" }],
      completeOptions,
    );
    expect(r.outcomes[0]?.accepted).toBe(false);
  });
});

describe("completing occurrences", () => {
  it("records the run of an occurrence published while its job was paused, and moves the job on no further", async () => {
    await f.store.upsert(job({ id: "paused-mid-publish", schedule: { kind: "every", everyMs: 1_000 } }));
    const c = (await f.store.claimDue("p", { ...claimOptions, limit: 10_000 })).jobs.find(
      (j) => j.id === "paused-mid-publish",
    )!;
    const [first, second] = [c.next!.scheduledAt, new Date(c.next!.scheduledAt.getTime() + 1_000)];
    await f.store.pause("paused-mid-publish");
    const r = await f.store.complete(
      "p",
      [
        // Its message is out: the history must show it, and no one will fire it again.
        { jobId: "paused-mid-publish", scheduledAt: first, outcome: "fired", streamSeq: 7 },
        // Not published: nothing to record for a job no longer held.
        { jobId: "paused-mid-publish", scheduledAt: second, outcome: "failed", error: "nats down" },
      ],
      completeOptions,
    );
    expect(r.outcomes).toEqual([
      expect.objectContaining({ accepted: false, recorded: true }),
      expect.objectContaining({ accepted: false, recorded: false }),
    ]);
    const runs = await f.store.listRuns("paused-mid-publish");
    expect(runs.items).toEqual([
      expect.objectContaining({ scheduledAt: first, outcome: "fired", streamSeq: 7, recordedBy: "p" }),
    ]);
    expect(await f.store.get("paused-mid-publish")).toMatchObject({
      state: "paused",
      runsCount: 0,
      nextRunAt: null,
      claimedBy: null,
    });
  });

  it("a completion that gives the definition it holds, at the stored version, is not given the stored one again", async () => {
    await f.store.upsert(job({ id: "known-def", schedule: { kind: "every", everyMs: 1_000 } }));
    const c = (await f.store.claimDue("k", { ...claimOptions, limit: 10_000 })).jobs.find(
      (j) => j.id === "known-def",
    )!;
    // Behind the store's back, with no version bump: only a definition read from the row sees it.
    // Every 60 s on a grid 500 ms off the second, so no occurrence of it is one of the held
    // definition's (every 1 s on the second): asserted "later than the held one's next", the test
    // failed whenever that next fell on a full minute.
    await f.db.pool.query(
      `UPDATE "${f.store.schema}".jobs
       SET definition = jsonb_set(jsonb_set(definition, '{schedule,everyMs}', '60000'), '{schedule,phaseMs}', '500')
       WHERE id = $1`,
      ["known-def"],
    );
    const at = c.next!.scheduledAt;
    const known = { version: c.version, definition: c.definition };
    const r = await f.store.complete(
      "k",
      [{ jobId: "known-def", scheduledAt: at, outcome: "fired", known }],
      completeOptions,
    );
    expect(r.outcomes[0]).toMatchObject({ accepted: true, recorded: true });
    expect((await f.store.get("known-def"))?.nextRunAt?.getTime()).toBe(at.getTime() + 1_000);
    // A held definition of another version is not trusted: the stored one decides.
    const next = r.continuing.find((j) => j.id === "known-def")?.next ?? null;
    const at2 = next?.scheduledAt ?? new Date(at.getTime() + 1_000);
    const stale = { version: c.version + 1, definition: c.definition };
    await f.store.complete(
      "k",
      [{ jobId: "known-def", scheduledAt: at2, outcome: "fired", known: stale }],
      completeOptions,
    );
    // (on the stored definition's grid, not the held one's)
    expect(((await f.store.get("known-def"))?.nextRunAt?.getTime() ?? 0) % 60_000).toBe(500);
  });

  it("recording a run twice is a no-op: one row, one advance", async () => {
    await f.store.upsert(job({ id: "idem", schedule: { kind: "every", everyMs: 1_000 } }));
    const c = (await f.store.claimDue("w", { ...claimOptions, limit: 10_000 })).jobs.find(
      (j) => j.id === "idem",
    )!;
    const result = {
      jobId: "idem",
      scheduledAt: c.next!.scheduledAt,
      outcome: "fired",
      streamSeq: 42,
    } as const;
    const first = await f.store.complete("w", [result], completeOptions);
    const second = await f.store.complete("w", [result], completeOptions);
    expect(first.outcomes[0]).toMatchObject({ accepted: true, recorded: true });
    expect(second.outcomes[0]).toMatchObject({ accepted: true, recorded: false });
    expect(await f.store.get("idem")).toMatchObject({ runsCount: 1 });
    const runs = await f.store.listRuns("idem");
    expect(runs.items).toEqual([
      expect.objectContaining({ outcome: "fired", streamSeq: 42, recordedBy: "w", manual: false }),
    ]);
  });

  it("keeps the claim while the next occurrence is within the horizon (`continuing`), releases it beyond", async () => {
    const now = await f.dbNow();
    await f.store.upsert(job({ id: "tick", schedule: { kind: "every", everyMs: 1_000 } }));
    // Behind by 5 s but within maxLateness (60 s): five occurrences are due at once.
    const first = new Date(Math.floor(now.getTime() / 1_000) * 1_000 - 5_000);
    await f.rewind("tick", first, new Date(first.getTime() + 60_000));
    let c = (await f.store.claimDue("ticker", { ...claimOptions, limit: 10_000 })).jobs.find(
      (j) => j.id === "tick",
    );
    const fired: number[] = [];
    while (c) {
      fired.push(c.next!.scheduledAt.getTime());
      const r = await f.store.complete(
        "ticker",
        [{ jobId: "tick", scheduledAt: c.next!.scheduledAt, outcome: "fired" }],
        completeOptions,
      );
      c = r.continuing.find((j) => j.id === "tick");
    }
    // Consecutive seconds, none skipped or repeated, up to the horizon.
    expect(fired.length).toBeGreaterThanOrEqual(7);
    expect(fired.every((t, i) => i === 0 || t - fired[i - 1]! === 1_000)).toBe(true);
    const stored = await f.store.get("tick");
    expect(stored).toMatchObject({ runsCount: fired.length, claimedBy: null });
    expect(stored!.nextRunAt!.getTime()).toBe(fired.at(-1)! + 1_000);
    expect(stored!.nextRunAt!.getTime()).toBeGreaterThan(now.getTime() + completeOptions.horizonMs);
  });

  it("a one-shot completes: state completed, no next, claim released; maxRuns ends a series", async () => {
    const now = await f.dbNow();
    await f.store.upsert(
      job({ id: "once", schedule: { kind: "at", at: new Date(now.getTime() + 200).toISOString() } }),
    );
    await f.store.upsert(job({ id: "three", schedule: { kind: "every", everyMs: 1_000 }, maxRuns: 3 }));
    await f.rewind("three", new Date(now.getTime() - 10_000), new Date(now.getTime() + 50_000));
    const { jobs } = await f.store.claimDue("w2", { ...claimOptions, limit: 10_000 });
    const once = jobs.find((j) => j.id === "once")!;
    const r = await f.store.complete(
      "w2",
      [{ jobId: "once", scheduledAt: once.next!.scheduledAt, outcome: "fired" }],
      completeOptions,
    );
    expect(r.continuing.map((j) => j.id)).not.toContain("once");
    expect(await f.store.get("once")).toMatchObject({
      state: "completed",
      nextRunAt: null,
      claimedBy: null,
      runsCount: 1,
    });

    let three = jobs.find((j) => j.id === "three");
    let completions = 0;
    while (three) {
      const done = await f.store.complete(
        "w2",
        [{ jobId: "three", scheduledAt: three.next!.scheduledAt, outcome: "fired" }],
        completeOptions,
      );
      three = done.continuing.find((j) => j.id === "three");
      completions++;
    }
    expect(completions).toBe(3);
    expect(await f.store.get("three")).toMatchObject({
      state: "completed",
      runsCount: 3,
      claimedBy: null,
      nextRunAt: null,
    });
  });

  it("a missed or failed occurrence advances the schedule without counting toward maxRuns", async () => {
    await f.store.upsert(job({ id: "mf", schedule: { kind: "every", everyMs: 1_000 }, maxRuns: 1 }));
    const c = (await f.store.claimDue("w3", { ...claimOptions, limit: 10_000 })).jobs.find(
      (j) => j.id === "mf",
    )!;
    const r = await f.store.complete(
      "w3",
      [
        {
          jobId: "mf",
          scheduledAt: c.next!.scheduledAt,
          outcome: "failed",
          error: "no stream captures subject",
        },
      ],
      completeOptions,
    );
    expect(r.continuing.find((j) => j.id === "mf")?.next?.scheduledAt.getTime()).toBe(
      c.next!.scheduledAt.getTime() + 1_000,
    );
    expect(await f.store.get("mf")).toMatchObject({ state: "active", runsCount: 0 });
    expect((await f.store.listRuns("mf")).items[0]).toMatchObject({
      outcome: "failed",
      error: "no stream captures subject",
      firedAt: null,
    });
  });

  it("the due backlog counts occurrences due now and not yet settled", async () => {
    // The earlier tests' every-second jobs become due on their own as time passes (one did
    // between the two counts on a loaded machine): set them aside, so only this job moves.
    const active = await f.db.pool.query<{ id: string }>(
      `SELECT id FROM "${f.db.name}".jobs WHERE state = 'active'`,
    );
    for (const { id } of active.rows) await f.store.pause(id);
    const before = (await f.store.stats()).dueBacklog;
    const now = await f.dbNow();
    await f.store.upsert(job({ id: "backlog", schedule: { kind: "every", everyMs: 1_000 } }));
    await f.rewind("backlog", new Date(now.getTime() - 2_000), new Date(now.getTime() + 58_000));
    expect((await f.store.stats()).dueBacklog).toBe(before + 1);
  });
});
