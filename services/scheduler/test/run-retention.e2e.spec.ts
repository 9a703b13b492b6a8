import { httpClient, waitFor } from "@dbplane/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";

let world: SchedulerWorld | undefined;
afterEach(async () => {
  await world?.dispose();
  world = undefined;
});

const KEEP = 1_000;
const TICK_HISTORY = 60_000;
const OLD_HISTORY = 40_000;

/** Sums a counter's sample with `labels` over the replicas' /metrics. */
async function counterSum(bases: readonly string[], sample: string): Promise<number> {
  let sum = 0;
  for (const base of bases) {
    const text = await fetch(`${base}/metrics`).then((r) => r.text());
    const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
    sum += line ? Number(line.split(" ")[1]) : 0;
  }
  return sum;
}

describe("run history retention", () => {
  it(`${TICK_HISTORY + OLD_HISTORY} runs pruned to count=${KEEP},age=1d while two replicas fire an every-second job: no gap, no double`, async () => {
    world = await createSchedulerWorld();
    const w = world;
    const replicas = await w.startReplicas(2, {
      env: {
        DBPLANE_SCHEDULER_RUN_RETENTION: `count=${KEEP},age=1d`,
        DBPLANE_SCHEDULER_RUN_PRUNE_INTERVAL_MS: "1000",
      },
    });
    const api = httpClient(replicas[0]!.base, w.token());
    const runs = `"${w.db.name}".runs`;
    const created = await api.call("POST", "/v1/jobs", {
      id: "tick",
      schedule: { kind: "every", everyMs: 1_000 },
      target: { subject: w.targetSubject("tick") },
    });
    expect(created.status).toBe(201);
    await waitFor(async () => (await w.readTarget()).length >= 1, {
      what: "the first tick",
      timeoutMs: 20_000,
    });

    // History from before: the tick job's, scheduled hours ago (recent enough for the age), and
    // another job's, recorded two days ago (past the age).
    await w.db.pool.query(
      `INSERT INTO ${runs} (job_id, scheduled_at, outcome, fired_at, lateness_ms)
       SELECT 'tick', now() - interval '1 hour' - i * interval '1 second', 'fired', now(), 0
       FROM generate_series(1, $1) AS i`,
      [TICK_HISTORY],
    );
    await w.db.pool.query(
      `INSERT INTO ${runs} (job_id, scheduled_at, outcome, fired_at, lateness_ms, recorded_at)
       SELECT 'gone', now() - interval '3 days' + i * interval '1 second', 'fired', now(), 0, now() - interval '2 days'
       FROM generate_series(1, $1) AS i`,
      [OLD_HISTORY],
    );

    const count = async (job: string) =>
      Number((await w.db.pool.query(`SELECT count(*) AS n FROM ${runs} WHERE job_id = $1`, [job])).rows[0].n);
    await waitFor(async () => (await count("gone")) === 0 && (await count("tick")) <= KEEP + 3, {
      what: `history pruned to ${KEEP} runs of tick and none of the old job`,
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    // Keep firing through a few more prune rounds, then stop the job.
    const before = (await w.readTarget()).length;
    await waitFor(async () => (await w.readTarget()).length >= before + 5, {
      what: "5 more ticks",
      timeoutMs: 20_000,
    });
    expect((await api.call("POST", "/v1/jobs/tick/pause")).status).toBe(200);

    // A publish in flight when the pause landed is still recorded: wait until every message in
    // the stream has its run and pruning has settled at KEEP.
    const ticks = async () =>
      (await w.readTarget()).map((m) => Date.parse(m.msgId.slice("tick:".length))).sort((a, b) => a - b);
    const liveRuns = async (from: number) =>
      (
        await w.db.pool.query<{ scheduled_at: Date; outcome: string }>(
          `SELECT scheduled_at, outcome FROM ${runs} WHERE job_id = 'tick' AND scheduled_at >= $1 ORDER BY scheduled_at`,
          [new Date(from)],
        )
      ).rows;
    await waitFor(
      async () => {
        const published = await ticks();
        const kept = await count("tick");
        const recorded = await liveRuns(published[0]!);
        if (kept === KEEP && recorded.length === published.length) return true;
        // Thrown, not false: a timeout then says what it saw.
        const times = (list: readonly number[]) => list.map((t) => new Date(t).toISOString().slice(11, 19));
        throw new Error(
          `tick has ${kept} runs; published ${JSON.stringify(times(published))}, recorded ${JSON.stringify(
            recorded.map((r) => `${times([r.scheduled_at.getTime()])[0]} ${r.outcome}`),
          )}`,
        );
      },
      { what: `every tick recorded and tick pruned to ${KEEP} runs`, timeoutMs: 30_000 },
    );

    // The live ticks: one message each, a second apart, none missing — in the stream and in the runs.
    const published = await ticks();
    expect(new Set(published).size).toBe(published.length);
    for (let i = 1; i < published.length; i++) expect(published[i]! - published[i - 1]!).toBe(1_000);
    const live = await liveRuns(published[0]!);
    expect(live.map((r) => r.scheduled_at.getTime())).toEqual(published);
    expect(live.every((r) => r.outcome === "fired")).toBe(true);

    // Only the oldest went, each counted once by the replica that deleted it.
    const bases = replicas.map((r) => r.base);
    const pruned = async () => ({
      age: await counterSum(bases, 'dbplane_scheduler_runs_pruned_total{reason="age"}'),
      count: await counterSum(bases, 'dbplane_scheduler_runs_pruned_total{reason="count"}'),
    });
    const expected = { age: OLD_HISTORY, count: TICK_HISTORY + published.length - KEEP };
    // A replica counts a batch just after its DELETE commits: allow it that moment.
    await waitFor(async () => JSON.stringify(await pruned()) === JSON.stringify(expected), {
      what: "the pruned-rows counters to add up",
      timeoutMs: 5_000,
    }).catch(() => {});
    expect(await pruned()).toEqual(expected);
  }, 120_000);
});
