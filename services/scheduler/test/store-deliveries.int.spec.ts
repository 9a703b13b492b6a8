import { describe, expect, it } from "vitest";
import type { StoreFixture } from "./store-fixture.ts";
import { claimOptions, completeOptions, fileStoreFixture, job } from "./store-fixture.ts";

let f: StoreFixture;
fileStoreFixture((fixture) => {
  f = fixture;
});

/** Saves an http job due now, claims it and records its occurrence fired: its delivery is queued. */
async function firedHttpJob(id: string): Promise<Date> {
  const at = new Date((await f.dbNow()).getTime() + 500).toISOString();
  await f.store.upsert(
    job({
      id,
      schedule: { kind: "at", at },
      target: { kind: "http", url: "https://hooks.example.com/x", timeoutMs: 1_000 },
    }),
  );
  const claimed = (await f.store.claimDue("firing", claimOptions)).jobs.find((j) => j.id === id)!;
  const scheduledAt = claimed.next!.scheduledAt;
  await f.store.complete("firing", [{ jobId: id, scheduledAt, outcome: "fired" }], completeOptions);
  return scheduledAt;
}

async function leaseRunsOut(jobId: string): Promise<void> {
  await f.db.pool.query(
    `UPDATE "${f.store.schema}".deliveries SET next_attempt_at = now() - interval '1 second' WHERE job_id = $1`,
    [jobId],
  );
}

describe("webhook deliveries in the store", () => {
  it("a fired http occurrence queues exactly one delivery, whoever records the run again", async () => {
    const at = await firedHttpJob("queued");
    await f.store.complete(
      "firing",
      [{ jobId: "queued", scheduledAt: at, outcome: "fired" }],
      completeOptions,
    );
    expect(await f.store.getDelivery("queued", at)).toMatchObject({ state: "pending", attemptCount: 0 });
    const a = await f.store.claimDeliveries("a", 100, 1_000);
    const b = await f.store.claimDeliveries("b", 100, 1_000);
    expect([...a, ...b].filter((d) => d.jobId === "queued")).toHaveLength(1);
  });

  it("a replica that dies mid-attempt: after the lease another one retries, the lost attempt is recorded, the dead one's result is refused", async () => {
    const at = await firedHttpJob("takeover");
    const first = (await f.store.claimDeliveries("dies", 100, 1_000)).find((d) => d.jobId === "takeover")!;
    expect(first.attempt).toBe(1);
    // Leased: nobody else gets it while the attempt may still be running.
    expect((await f.store.claimDeliveries("survivor", 100, 1_000)).some((d) => d.jobId === "takeover")).toBe(
      false,
    );
    await leaseRunsOut("takeover");
    const second = (await f.store.claimDeliveries("survivor", 100, 1_000)).find(
      (d) => d.jobId === "takeover",
    )!;
    expect(second).toMatchObject({ attempt: 2, previousLost: true });
    const late = { jobId: "takeover", scheduledAt: at, attempt: 1, state: "succeeded" as const };
    expect(await f.store.finishDelivery("dies", { ...late, result: ok })).toBe(false);
    expect(await f.store.finishDelivery("survivor", { ...late, attempt: 2, result: ok })).toBe(true);
    const d = await f.store.getDelivery("takeover", at);
    expect(d).toMatchObject({ state: "succeeded", attemptCount: 2, lastStatus: 200 });
    expect(d?.attempts.map((x) => [x.replica, x.outcome])).toEqual([
      ["dies", "lost"],
      ["survivor", "success"],
    ]);
  });

  it("pruning keeps a run while its delivery is open or its end unannounced, by age and by count", async () => {
    const at = await firedHttpJob("in-flight");
    // A newer run of the job, so that keeping one run would otherwise drop the delivery's.
    await f.db.pool.query(
      `INSERT INTO "${f.store.schema}".runs (job_id, scheduled_at, outcome, fired_at, lateness_ms)
       VALUES ('in-flight', $1::timestamptz + interval '1 second', 'fired', now(), 0)`,
      [at],
    );
    const future = new Date((await f.dbNow()).getTime() + 3_600_000);
    const runKept = async () =>
      (await f.store.listRuns("in-flight")).items.some((r) => r.scheduledAt.getTime() === at.getTime());

    // Pending: a count of one would drop it for the newer run.
    expect(await f.store.pruneJobRuns("in-flight", 1)).toBe(0);
    // Running: neither a count nor a job's age nor the global age deletes it (the newer run goes).
    const claimed = (await f.store.claimDeliveries("worker", 100, 1_000)).find(
      (d) => d.jobId === "in-flight",
    )!;
    expect(await f.store.pruneJobRuns("in-flight", 1)).toBe(0);
    expect(await f.store.pruneJobRunsBefore("in-flight", future)).toBe(1);
    expect(await f.store.pruneRuns(future)).toBe(0);
    expect(await f.store.getDelivery("in-flight", at)).toMatchObject({ state: "running", attemptCount: 1 });

    // Ended but its event not yet published: still kept, with its attempt.
    expect(
      await f.store.finishDelivery("worker", {
        jobId: "in-flight",
        scheduledAt: at,
        attempt: claimed.attempt,
        state: "succeeded",
        result: ok,
      }),
    ).toBe(true);
    expect(await f.store.pruneJobRuns("in-flight", 0)).toBe(0);
    expect(await f.store.pruneJobRunsBefore("in-flight", future)).toBe(0);
    expect(await f.store.pruneRuns(future)).toBe(0);
    expect(await runKept()).toBe(true);
    expect((await f.store.getDelivery("in-flight", at))?.attempts).toHaveLength(1);

    // Announced: history like any other.
    expect(await f.store.endedDelivery("in-flight", at)).toMatchObject({
      state: "succeeded",
      durationMs: 12,
    });
    await f.store.markAnnounced("in-flight", at);
    expect(await f.store.endedDelivery("in-flight", at)).toBeNull();
    expect(await f.store.pruneJobRuns("in-flight", 0)).toBe(1);
    expect(await runKept()).toBe(false);
    expect(await f.store.getDelivery("in-flight", at)).toBeNull();
  });
});

const ok = { outcome: "success", statusCode: 200, durationMs: 12, error: null };
