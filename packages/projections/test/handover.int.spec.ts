import { busNames } from "@dbplane/bus";
import { serviceSource } from "@dbplane/contracts";
import { createTestNats, createTestSchema, type TestNats, type TestSchema, waitFor } from "@dbplane/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type CoordinationTables,
  coordinationMigrations,
  coordinationTables,
  createProjectionRuntime,
  defineProjection,
  desiredOwner,
  GenerationStore,
  type ProjectionDefinition,
  type ProjectionRuntime,
  partitionOf,
} from "../src/index.ts";

const PARTITIONS = 4;
const TYPE = "io.dbplane.test.ledger.entry.v1";
// Heartbeats a minute apart: a hand-over that completes inside the test's deadlines was driven by
// the coordination notifications (a join, a release), not by a tick.
const HEARTBEAT_MS = 60_000;
const quiet = { info() {}, warn() {}, error() {} };

/**
 * Logs which member applied each event; `gate` holds the first handler call (the warm-up's),
 * `valve` every call while it is closed.
 */
function ledger(member: string, gate?: { entered: boolean; open: Promise<void> }, valve?: Valve) {
  let calls = 0;
  return defineProjection({
    name: "ledger",
    version: 1,
    partitions: PARTITIONS,
    events: { subjects: ["dbplane.evt.collector.ledger.>"] },
    async setup(tx, t) {
      await tx.query(
        `CREATE TABLE ${t.table("log")} (seq bigint NOT NULL, part int NOT NULL, member text NOT NULL)`,
      );
    },
    async handle(event, tx, t) {
      if (gate && calls++ === 0) {
        gate.entered = true;
        await gate.open;
      }
      await valve?.passed();
      await tx.query(`INSERT INTO ${t.table("log")} VALUES ($1, $2, $3)`, [
        event.seq,
        partitionOf(event.subject ?? "", PARTITIONS),
        member,
      ]);
    },
  });
}

/** Holds every handler call while closed. */
class Valve {
  #open: Promise<void> = Promise.resolve();
  #opened = () => {};
  close(): void {
    this.#open = new Promise((resolve) => (this.#opened = resolve));
  }
  open(): void {
    this.#opened();
  }
  passed(): Promise<void> {
    return this.#open;
  }
}

describe("handing a unit over to a joining replica", () => {
  let db: TestSchema;
  let nats: TestNats;
  let t: CoordinationTables;
  const pools: pg.Pool[] = [];
  const runtimes: ProjectionRuntime[] = [];
  const partOf = new Map<number, number>();
  let published = 0;

  beforeEach(async () => {
    // Each test has a stream of its own: the sequences an earlier test published are not its.
    partOf.clear();
    db = await createTestSchema("handover");
    t = coordinationTables(db.name);
    for (const m of coordinationMigrations) await db.pool.query(m.sql(t));
    nats = await createTestNats();
    const names = busNames(nats.namespace);
    await (await jetstreamManager(nats.nc)).streams.add({
      name: names.stream("evt"),
      subjects: [names.streamSubjects("evt")],
    });
  });
  afterEach(async () => {
    for (const r of runtimes.splice(0).reverse()) await r.stop();
    await Promise.all(pools.splice(0).map((p) => p.end()));
    await nats.cleanup();
    await db.drop();
  });

  const publish = async (count: number) => {
    const js = jetstream(nats.nc);
    const subject = busNames(nats.namespace).subject("dbplane.evt.collector.ledger.entry");
    for (let i = 0; i < count; i++) {
      const n = published++;
      const h = headers();
      h.set("ce-id", `ledger-${n}`);
      h.set("ce-type", TYPE);
      h.set("ce-source", serviceSource("collector"));
      h.set("ce-subject", `acct-${n % 40}`);
      h.set("ce-time", new Date().toISOString());
      h.set("ce-specversion", "1.0");
      const ack = await js.publish(subject, JSON.stringify({ n }), { headers: h });
      partOf.set(ack.seq, partitionOf(`acct-${n % 40}`, PARTITIONS));
    }
  };

  const replica = (
    memberId: string,
    gate?: { entered: boolean; open: Promise<void> },
    max = 6,
    valve?: Valve,
    projections: readonly ProjectionDefinition[] = [ledger(memberId, gate, valve)],
    logger: typeof quiet & { debug?: (fields: object, msg: string) => void } = quiet,
  ) => {
    const pool = new pg.Pool({ connectionString: db.url, max });
    pools.push(pool);
    const runtime = createProjectionRuntime({
      pool,
      nc: nats.nc,
      namespace: nats.namespace,
      schema: db.name,
      projections,
      memberId,
      logger,
      heartbeatMs: HEARTBEAT_MS,
      memberTtlMs: 10 * HEARTBEAT_MS,
      batchSize: 10,
      idleFlushMs: 50,
    });
    runtimes.push(runtime);
    return runtime;
  };

  const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
    (await db.pool.query<R>(sql, params)).rows;
  /** Waits until every unit is owned by the member `wanted` (rendezvous hashing) names. */
  const ownedAsHashed = (wanted: (partition: number) => string | undefined) =>
    waitFor(
      async () =>
        (
          await query<{ owner: string; partition: number }>(
            `SELECT owner, partition FROM ${t.units} WHERE projection = 'ledger'`,
          )
        ).every((u) => u.owner === wanted(u.partition)),
      { timeoutMs: 20_000, what: "the units rendezvous hashing gives b to move to it" },
    );
  /**
   * Replica a, owning every unit: released before (token 1) as if by a previous replica, so a
   * takes them on its first tick instead of waiting a heartbeat for peers.
   */
  const ownerOfEverything = async () => {
    await new GenerationStore(db.pool, t, db.name).ensure(ledger("a"));
    await db.pool.query(`UPDATE ${t.units} SET token = 1`);
    const a = replica("a");
    await a.start();
    await waitFor(
      async () => (await query(`SELECT 1 FROM ${t.units} WHERE owner = 'a'`)).length === PARTITIONS,
      { timeoutMs: 20_000, what: "replica a to own every unit" },
    );
    return a;
  };
  /** The stream sequences published to a partition, in order. */
  const publishedTo = (partition: number) =>
    [...partOf]
      .filter(([, q]) => q === partition)
      .map(([seq]) => seq)
      .sort((x, y) => x - y);

  it("starts on the smallest pool the services allow (2): the warm-up leaves the listener its connection", async () => {
    await publish(5);
    // Units released before (as in the test below): taken on the first tick, not after a heartbeat.
    await new GenerationStore(db.pool, t, db.name).ensure(ledger("small"));
    await db.pool.query(`UPDATE ${t.units} SET token = 1`);
    const small = replica("small", undefined, 2);
    // With the warm-up asking for every connection while the listener holds one, this never ended.
    await small.start();
    expect(small.warmUpTimes).toBeDefined();
    await waitFor(
      async () => (await query(`SELECT 1 FROM ${t.units} WHERE owner = 'small'`)).length === PARTITIONS,
      { timeoutMs: 20_000, what: "the small replica to own every unit" },
    );
  });

  it("the joiner warms up before it joins, and each moved unit continues on it from the released checkpoint", async () => {
    await publish(60);
    await ownerOfEverything();

    let openGate = () => {};
    const gate = { entered: false, open: new Promise<void>((resolve) => (openGate = resolve)) };
    const b = replica("b", gate);
    const started = b.start();
    await waitFor(() => gate.entered, { timeoutMs: 20_000, what: "b's warm-up to run the handler" });
    // Mid warm-up: b is no member yet, so nobody hands it anything.
    expect(await query(`SELECT id FROM ${t.members} ORDER BY id`)).toEqual([{ id: "a" }]);
    expect(await query(`SELECT DISTINCT owner FROM ${t.units}`)).toEqual([{ owner: "a" }]);
    expect(b.ownedUnits()).toEqual([]);

    let publishing = true;
    const publisher = (async () => {
      while (publishing) await publish(5);
    })();
    const warmedAt = (await query<{ at: Date }>(`SELECT clock_timestamp() AS at`))[0]!.at;
    openGate();
    await started;
    const members = [
      { id: "a", capabilities: ["ledger@1"] },
      { id: "b", capabilities: ["ledger@1"] },
    ];
    const wanted = (partition: number) =>
      desiredOwner({ projection: "ledger", generation: 1, partition }, "ledger@1", members);
    const moved = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => wanted(p) === "b");
    expect(moved.length).toBeGreaterThan(0);
    await ownedAsHashed(wanted);
    publishing = false;
    await publisher;
    const last = Math.max(...partOf.keys());
    await waitFor(
      async () => (await query(`SELECT 1 FROM ${t.units} WHERE checkpoint < $1`, [last])).length === 0,
      { timeoutMs: 20_000, what: "every event to be applied" },
    );

    const moves = await query<{
      partition: number;
      worker: string;
      action: string;
      checkpoint: number;
      at: Date;
    }>(`SELECT partition, worker, action, checkpoint::float8 AS checkpoint, at FROM ${t.moves} ORDER BY id`);
    const log = await query<{ seq: number; part: number; member: string }>(
      `SELECT seq::float8 AS seq, part, member FROM "${db.name}".ledger_g1_log ORDER BY seq`,
    );
    for (let p = 0; p < PARTITIONS; p++) {
      const events = publishedTo(p);
      const applied = log.filter((r) => r.part === p);
      // Exactly once, in stream order: no gap, no overlap.
      expect(applied.map((r) => r.seq)).toEqual(events);
      if (!moved.includes(p)) {
        expect(new Set(applied.map((r) => r.member))).toEqual(new Set(["a"]));
        continue;
      }
      const mine = moves.filter((m) => m.partition === p);
      const released = mine.find((m) => m.action === "released" && m.worker === "a")!;
      const taken = mine.find((m) => m.action === "assigned" && m.worker === "b")!;
      // b took the unit only after its warm-up, at the checkpoint a released it with.
      expect(taken.at.getTime()).toBeGreaterThan(warmedAt.getTime());
      expect(taken.checkpoint).toBe(released.checkpoint);
      // a applied a prefix up to that checkpoint, b the rest from the next event of the unit.
      const firstOfB = applied.findIndex((r) => r.member === "b");
      const byA = firstOfB < 0 ? applied : applied.slice(0, firstOfB);
      expect(byA.every((r) => r.member === "a" && r.seq <= released.checkpoint)).toBe(true);
      expect(applied.slice(byA.length).every((r) => r.member === "b" && r.seq > released.checkpoint)).toBe(
        true,
      );
    }
  });
  it("the joiner reads its expected units' events before it joins and starts them on those, with no reader of their own", async () => {
    await publish(40);
    const a = await ownerOfEverything();
    let publishing = true;
    const publisher = (async () => {
      while (publishing) await publish(5);
    })();
    const started = async (r: ProjectionRuntime) =>
      Object.fromEntries((await r.metrics.readerStarts.get()).values.map((v) => [v.labels.purpose, v.value]));
    // Units nobody ran (a fresh start) are not read ahead: one reader, started when a took them.
    expect(await started(a)).toEqual({ acquired: 1 });
    const b = replica("b");
    await b.start();
    // Joined: the reader for the units b expects (a runs them) runs already.
    expect(await started(b)).toEqual({ prefetch: 1 });
    const members = [
      { id: "a", capabilities: ["ledger@1"] },
      { id: "b", capabilities: ["ledger@1"] },
    ];
    const wanted = (partition: number) =>
      desiredOwner({ projection: "ledger", generation: 1, partition }, "ledger@1", members);
    await ownedAsHashed(wanted);
    publishing = false;
    await publisher;
    const last = Math.max(...partOf.keys());
    await waitFor(
      async () => (await query(`SELECT 1 FROM ${t.units} WHERE checkpoint < $1`, [last])).length === 0,
      { timeoutMs: 20_000, what: "every event to be applied" },
    );
    // Every unit b took started on the prefetching reader: none needed a consumer of its own.
    expect(await started(b)).toEqual({ prefetch: 1 });
    expect(b.ownedUnits().length).toBeGreaterThan(0);
    const log = await query<{ seq: number; part: number; member: string }>(
      `SELECT seq::float8 AS seq, part, member FROM "${db.name}".ledger_g1_log ORDER BY seq`,
    );
    for (let p = 0; p < PARTITIONS; p++) {
      const events = publishedTo(p);
      // Exactly once, in stream order, across the hand-over.
      expect(log.filter((r) => r.part === p).map((r) => r.seq)).toEqual(events);
    }
  });

  it("the joiner takes a unit released for it from the release's notification, while its rounds are held up", async () => {
    await publish(40);
    await ownerOfEverything();
    const members = [
      { id: "a", capabilities: ["ledger@1"] },
      { id: "b", capabilities: ["ledger@1"] },
    ];
    const wanted = (partition: number) =>
      desiredOwner({ projection: "ledger", generation: 1, partition }, "ledger@1", members);
    const moved = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => wanted(p) === "b");
    expect(moved.length).toBeGreaterThan(0);
    // A stale member (running no projection) whose row a transaction holds: every round that
    // removes stale members waits for it. And the rows of the units that will move, held so that
    // a releases them only once b's rounds are stuck.
    await db.pool.query(
      `INSERT INTO ${t.members} (id, capabilities, heartbeat_at) VALUES ('ghost', '{}', now() - interval '1 hour')`,
    );
    const ghost = await db.pool.connect();
    const units = await db.pool.connect();
    let publisher: Promise<void> = Promise.resolve();
    let publishing = true;
    try {
      await ghost.query("BEGIN");
      await ghost.query(`SELECT 1 FROM ${t.members} WHERE id = 'ghost' FOR UPDATE`);
      await units.query("BEGIN");
      await units.query(`SELECT 1 FROM ${t.units} WHERE partition = ANY($1) FOR UPDATE`, [moved]);
      const b = replica("b");
      await b.start();
      await waitFor(
        async () =>
          (
            await query(
              `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%DELETE FROM ${t.members}%'`,
            )
          ).length > 0,
        { timeoutMs: 20_000, what: "a round of b's to wait for the stale member's row" },
      );
      publisher = (async () => {
        while (publishing) await publish(5);
      })();
      await units.query("COMMIT");
      // b's rounds are still held: b runs its units all the same, and applies their events.
      await waitFor(
        async () =>
          (await query(`SELECT DISTINCT part FROM "${db.name}".ledger_g1_log WHERE member = 'b'`)).length ===
          moved.length,
        { timeoutMs: 20_000, what: "b to apply events of every unit rendezvous hashing gives it" },
      );
    } finally {
      publishing = false;
      await publisher;
      await units.query("ROLLBACK").catch(() => {});
      units.release();
      await ghost.query("ROLLBACK");
      ghost.release();
    }
    const last = Math.max(...partOf.keys());
    await waitFor(
      async () => (await query(`SELECT 1 FROM ${t.units} WHERE checkpoint < $1`, [last])).length === 0,
      { timeoutMs: 20_000, what: "every event to be applied" },
    );
    const log = await query<{ seq: number; part: number }>(
      `SELECT seq::float8 AS seq, part FROM "${db.name}".ledger_g1_log ORDER BY seq`,
    );
    for (let p = 0; p < PARTITIONS; p++) {
      const events = publishedTo(p);
      // Exactly once, in stream order, across the hand-over.
      expect(log.filter((r) => r.part === p).map((r) => r.seq)).toEqual(events);
    }
  });

  it("a replica neither giving nor taking units reads the view once for a join, not for each unit that moves", async () => {
    await publish(40);
    await ownerOfEverything();
    // c runs another projection only: no ledger unit is ever its to take or give.
    const views: number[] = [];
    const other = defineProjection({
      name: "other",
      version: 1,
      partitions: 1,
      events: { subjects: ["dbplane.evt.collector.other.>"] },
      async setup() {},
      async handle() {},
    });
    const c = replica("c", undefined, 6, undefined, [other], {
      ...quiet,
      debug: (_fields, msg) => {
        if (msg === "coordination view read") views.push(Date.now());
      },
    });
    await c.start();
    await waitFor(async () => views.length > 0, { timeoutMs: 20_000, what: "c's first round" });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = views.length;

    const members = ["a", "b", "c"].map((id) => ({
      id,
      capabilities: [id === "c" ? "other@1" : "ledger@1"],
    }));
    const wanted = (partition: number) =>
      desiredOwner({ projection: "ledger", generation: 1, partition }, "ledger@1", members);
    expect(
      Array.from({ length: PARTITIONS }, (_, p) => wanted(p)).filter((w) => w === "b").length,
    ).toBeGreaterThan(0);
    await replica("b").start();
    await ownedAsHashed(wanted);
    // The notifications of the last moves reach c a moment later, if they start rounds at all.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // b's join: one round. Each unit a released and b took used to start another one on c.
    expect(views.length - before).toBe(1);
  });

  it("an owner behind the joiner's read-ahead applies up to it, then releases: the joiner starts there on events it read ahead", async () => {
    await publish(40);
    await new GenerationStore(db.pool, t, db.name).ensure(ledger("a"));
    await db.pool.query(`UPDATE ${t.units} SET token = 1`);
    const valve = new Valve();
    const a = replica("a", undefined, 6, valve);
    await a.start();
    const last = () => Math.max(...partOf.keys());
    await waitFor(
      async () =>
        (await query(`SELECT 1 FROM ${t.units} WHERE owner = 'a' AND checkpoint = $1`, [last()])).length ===
        PARTITIONS,
      { timeoutMs: 20_000, what: "replica a to own every unit and apply every event" },
    );
    // a falls behind: its handlers wait while more events come.
    valve.close();
    await publish(60);
    const b = replica("b");
    await b.start();
    const readAhead = (
      await query<{ read_ahead: Record<string, number> }>(
        `SELECT read_ahead FROM ${t.members} WHERE id = 'b'`,
      )
    )[0]!.read_ahead;
    // Every event a had not applied is below the read-ahead: it starts at the stream's end.
    const members = [
      { id: "a", capabilities: ["ledger@1"] },
      { id: "b", capabilities: ["ledger@1"] },
    ];
    const wanted = (partition: number) =>
      desiredOwner({ projection: "ledger", generation: 1, partition }, "ledger@1", members);
    const moved = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => wanted(p) === "b");
    expect(moved.length).toBeGreaterThan(0);
    const start = last() + 1;
    expect(readAhead).toEqual(Object.fromEntries(moved.map((p) => [`ledger/1/${p}`, start])));
    // a holds on to the units that should move until it has applied up to the read-ahead.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await query(`SELECT DISTINCT owner FROM ${t.units}`)).toEqual([{ owner: "a" }]);
    let publishing = true;
    const publisher = (async () => {
      while (publishing) await publish(5);
    })();
    valve.open();
    await ownedAsHashed(wanted);
    publishing = false;
    await publisher;
    await waitFor(
      async () => (await query(`SELECT 1 FROM ${t.units} WHERE checkpoint < $1`, [last()])).length === 0,
      { timeoutMs: 20_000, what: "every event to be applied" },
    );
    const moves = await query<{ partition: number; worker: string; action: string; checkpoint: number }>(
      `SELECT partition, worker, action, checkpoint::float8 AS checkpoint FROM ${t.moves} WHERE token > 1 ORDER BY id`,
    );
    for (const p of moved) {
      const released = moves.find((m) => m.partition === p && m.action === "released" && m.worker === "a");
      // Released exactly below the read-ahead, and taken there.
      expect(released?.checkpoint).toBe(start - 1);
      expect(
        moves.find((m) => m.partition === p && m.action === "assigned" && m.worker === "b")?.checkpoint,
      ).toBe(released?.checkpoint);
    }
    // Started on the read-ahead: no reader of their own.
    const starts = (await b.metrics.readerStarts.get()).values.map((v) => [v.labels.purpose, v.value]);
    expect(Object.fromEntries(starts)).toEqual({ prefetch: 1 });
    const holds = (await a.metrics.handOverHolds.get()).values.filter(
      (v) => v.metricName === "dbplane_projection_hand_over_hold_seconds_count",
    );
    expect(holds.map((v) => [v.labels.outcome, v.value])).toEqual([["reached", moved.length]]);
    const log = await query<{ seq: number; part: number; member: string }>(
      `SELECT seq::float8 AS seq, part, member FROM "${db.name}".ledger_g1_log ORDER BY seq`,
    );
    for (let p = 0; p < PARTITIONS; p++) {
      const events = publishedTo(p);
      const applied = log.filter((r) => r.part === p);
      // Exactly once, in stream order; on a moved unit, a's part ends below the read-ahead.
      expect(applied.map((r) => r.seq)).toEqual(events);
      if (moved.includes(p)) for (const r of applied) expect(r.member === "a").toBe(r.seq < start);
    }
  });
});
