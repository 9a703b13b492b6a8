import { startPrivateNatsServer, waitFor } from "@dbplane/testkit";
import { jetstream } from "@nats-io/jetstream";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { parseJobDefinition } from "../src/domain/job-validation.ts";
import { createSchedulerStore } from "../src/store/scheduler-store.ts";
import { createSchedulerWorld, inParallel, type SchedulerWorld } from "./scheduler-world.ts";

const JOBS = 20_000;
const WINDOW_MS = 5_000;
// Stored 1,000 a transaction (upsertMany, as POST /v1/jobs/batch): a few seconds, where one at a
// time took ~15 s on a busy 2-CPU machine and 90 s once at load 20 (the test then ran out of its
// time). Should storing overrun the lead, the early jobs fire late while the rest are stored:
// exactly-once still holds. Their maxLatenessMs is 10 min, not the default minute, so the store
// never refuses a first job as due more than maxLatenessMs ago.
const LEAD_MS = 15_000;
const BURST_MAX_LATENESS_MS = 600_000;
let world: SchedulerWorld | undefined;
afterEach(async () => {
  await world?.dispose();
  world = undefined;
});

/** Waits until the database's clock reaches `at` (ms since the epoch). */
async function untilDbTime(w: SchedulerWorld, at: number, what: string, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await w.dbNow()).getTime() >= at, { what, timeoutMs, intervalMs: 20 });
}

/**
 * 3,000 one-shots due within 4 s from 8 s on (createBurst); answers once a quarter of that window
 * has passed, with the occurrences expected.
 */
async function smallBurstAQuarterIn(w: SchedulerWorld): Promise<Map<string, string>> {
  const windowMs = 4_000;
  const start = (await w.dbNow()).getTime() + 8_000;
  const expected = await createBurst(w, start, 3_000, windowMs);
  await untilDbTime(w, start + windowMs / 4, "a quarter into the window", 30_000);
  return expected;
}

/** Creates `jobs` one-shots due uniformly in [start, start + windowMs), through the store. */
async function createBurst(
  w: SchedulerWorld,
  start: number,
  jobs = JOBS,
  windowMs = WINDOW_MS,
): Promise<Map<string, string>> {
  const pool = new pg.Pool({ connectionString: w.db.url, max: 16 });
  const store = createSchedulerStore(pool, { schema: w.db.name });
  const expected = new Map<string, string>();
  const BATCH = 1_000;
  const batches = Array.from({ length: Math.ceil(jobs / BATCH) }, (_, b) =>
    Array.from({ length: Math.min(BATCH, jobs - b * BATCH) }, (_, k) => {
      const i = b * BATCH + k;
      const at = new Date(start + Math.floor((i * windowMs) / jobs)).toISOString();
      const id = `one-${i}`;
      expected.set(`${id}:${at}`, id);
      return parseJobDefinition({
        id,
        schedule: { kind: "at", at },
        maxLatenessMs: BURST_MAX_LATENESS_MS,
        target: { subject: w.targetSubject(`burst.${i % 10}`), payload: { i } },
      });
    }),
  );
  try {
    await inParallel(batches, 4, async (batch) => {
      await store.upsertMany(batch);
    });
  } finally {
    await pool.end();
  }
  return expected;
}

async function expectExactlyOnce(w: SchedulerWorld, expected: Map<string, string>) {
  const JOBS = expected.size;
  await waitFor(
    async () =>
      (
        await w.db.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM "${w.db.name}".runs WHERE outcome = 'fired'`,
        )
      ).rows[0]!.n === String(JOBS),
    { what: `${JOBS} fired runs`, timeoutMs: 60_000, intervalMs: 250 },
  );
  const messages = await w.readTarget();
  const distinct = new Set(messages.map((m) => m.msgId));
  expect(messages.length).toBe(JOBS);
  expect(distinct.size).toBe(JOBS);
  expect([...expected.keys()].filter((id) => !distinct.has(id))).toEqual([]);
  const outcomes = await w.db.pool.query<{ outcome: string; n: string }>(
    `SELECT outcome, count(*) AS n FROM "${w.db.name}".runs GROUP BY outcome`,
  );
  expect(Object.fromEntries(outcomes.rows.map((r) => [r.outcome, Number(r.n)]))).toEqual({ fired: JOBS });
  const states = await w.db.pool.query<{ state: string; n: string }>(
    `SELECT state, count(*) AS n FROM "${w.db.name}".jobs GROUP BY state`,
  );
  expect(Object.fromEntries(states.rows.map((r) => [r.state, Number(r.n)]))).toEqual({ completed: JOBS });
}

describe("firing with two replicas", () => {
  it(`${JOBS} one-shots due within ${WINDOW_MS / 1000} s: each published exactly once, none missed`, async () => {
    world = await createSchedulerWorld();
    const w = world;
    await w.startReplicas(2);
    const start = (await w.dbNow()).getTime() + LEAD_MS;
    const expected = await createBurst(w, start);
    await expectExactlyOnce(w, expected);
  }, 120_000);

  it("the same with one replica SIGKILLed mid-window: the survivor takes over after the lease", async () => {
    world = await createSchedulerWorld();
    const w = world;
    const env = { DBPLANE_SCHEDULER_LEASE_MS: "3000" };
    const [victim, survivor] = await w.startReplicas(2, { env });
    const start = (await w.dbNow()).getTime() + LEAD_MS;
    const expected = await createBurst(w, start);
    await untilDbTime(w, start + WINDOW_MS / 2, "the middle of the window", LEAD_MS + WINDOW_MS + 30_000);
    expect(await victim!.stop("SIGKILL")).toBe("SIGKILL");
    await expectExactlyOnce(w, expected);
    // The survivor fired the occurrences the dead replica held when it died: late, after the lease.
    const late = await w.db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM "${w.db.name}".runs WHERE lateness_ms >= 1000 AND outcome = 'fired'`,
    );
    expect(Number(late.rows[0]!.n)).toBeGreaterThan(0);
    expect(survivor!.svc.process.exitCode).toBe(null);
  }, 120_000);

  it("SIGTERM mid-window beside a replica firing from its main thread: what the stopped one had not published is fired by the other at once, exactly once", async () => {
    world = await createSchedulerWorld();
    const w = world;
    // The lease is long: an occurrence the stopped replica kept (not handed back) would wait
    // for it, and show up 20 s late.
    const env = { DBPLANE_SCHEDULER_LEASE_MS: "20000" };
    const stopped = await w.startReplica({ env });
    const other = await w.startReplica({ env: { ...env, DBPLANE_SCHEDULER_FIRING_THREAD: "false" } });
    const expected = await smallBurstAQuarterIn(w);
    expect(await stopped.stop("SIGTERM")).toBe(0);
    const handedBack = stopped.svc.logs().find((l) => l.msg === "firing stopped; claims released");
    expect(handedBack?.unfired).toBeGreaterThan(0);
    await expectExactlyOnce(w, expected);
    const byReplica = await w.db.pool.query<{ recorded_by: string; n: string; late: string }>(
      `SELECT recorded_by, count(*) AS n, count(*) FILTER (WHERE lateness_ms >= 10000) AS late
       FROM "${w.db.name}".runs GROUP BY recorded_by`,
    );
    // Both fired some (the thread's and the main thread's paths), and nothing waited for a lease.
    expect(byReplica.rows.length).toBe(2);
    expect(byReplica.rows.map((r) => Number(r.late))).toEqual([0, 0]);
    expect(other.svc.process.exitCode).toBe(null);
  }, 120_000);

  it("NATS restarted mid-window: every occurrence still published exactly once, none missed", async () => {
    const server = await startPrivateNatsServer();
    try {
      world = await createSchedulerWorld(server.url);
      const w = world;
      await w.startReplicas(2);
      const expected = await smallBurstAQuarterIn(w);
      // The test's own connection reconnects on nats.js's schedule (2 s apart), later than the
      // replicas' (1 s): what it sends before then is dropped (nats.js discards its outbound
      // buffer at every connect), so the stream is read only once it is back.
      const reconnected = (async () => {
        for await (const s of w.nats.nc.status()) if (s.type === "reconnect") return;
      })();
      // Publishes in flight fail or time out; the replicas retry them (same Nats-Msg-Id) until
      // the server is back, and the ones it had stored before it went down are deduplicated.
      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await server.start();
      await reconnected;
      await expectExactlyOnce(w, expected);
      const late = await w.db.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM "${w.db.name}".runs WHERE lateness_ms >= 1000`,
      );
      expect(Number(late.rows[0]!.n)).toBeGreaterThan(0);
    } finally {
      await world?.dispose();
      world = undefined;
      await server.dispose();
    }
  }, 120_000);

  it("an occurrence already in the stream (its publisher died before recording it) is recorded with the stored message, not stored twice", async () => {
    world = await createSchedulerWorld();
    const w = world;
    const replica = await w.startReplica();
    const at = new Date((await w.dbNow()).getTime() + 3_000).toISOString();
    const subject = w.targetSubject("again");
    // What a replica that died between the stream's ack and recording the run left behind.
    const js = jetstream(w.nats.nc);
    const earlier = await js.publish(subject, "{}", { msgID: `again:${at}` });
    await w.store.upsert(
      parseJobDefinition({ id: "again", schedule: { kind: "at", at }, target: { subject } }),
    );
    await waitFor(async () => (await w.store.listRuns("again", { limit: 10 })).items.length === 1, {
      what: "the run recorded",
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    const [run] = (await w.store.listRuns("again", { limit: 10 })).items;
    expect(run).toMatchObject({ outcome: "fired", streamSeq: earlier.seq });
    expect((await w.readTarget()).map((m) => m.msgId)).toEqual([`again:${at}`]);
    const metrics = await fetch(`${replica.base}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^dbplane_scheduler_publish_deduplicated_total 1$/m);
  }, 60_000);

  it("an every-second job runs for 10 s with no gap and no double", async () => {
    world = await createSchedulerWorld();
    const w = world;
    const [a] = await w.startReplicas(2);
    const res = await fetch(`${a!.base}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${w.token()}`, "content-type": "application/json" },
      body: JSON.stringify({
        id: "tick",
        schedule: { kind: "every", everyMs: 1_000 },
        target: { subject: w.targetSubject("tick") },
      }),
    });
    expect(res.status).toBe(201);
    await waitFor(async () => (await w.readTarget()).length >= 11, {
      what: "11 ticks",
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    await fetch(`${a!.base}/v1/jobs/tick/pause`, {
      method: "POST",
      headers: { authorization: `Bearer ${w.token()}` },
    });
    const times = (await w.readTarget()).map((m) => Date.parse(m.msgId.slice("tick:".length)));
    expect(new Set(times).size).toBe(times.length);
    const sorted = [...times].sort((x, y) => x - y);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBe(1_000);
    const runs = await w.store.listRuns("tick", { limit: 1_000 });
    expect(runs.items.filter((r) => r.outcome !== "fired")).toEqual([]);
  }, 60_000);
});
