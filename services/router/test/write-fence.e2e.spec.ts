// Three router replicas on one database of two shards, and a fence coordinator in the test (any
// process on the bus can be one). A fence on shard 0 holds writes to it on every replica — HTTP
// and wire — while writes to shard 1 and reads of shard 0 pass; an open wire transaction that
// wrote to shard 0 delays the acknowledgement until it commits; a replica that cannot answer
// (SIGSTOP) makes the raise time out naming it and leaves no fence raised; a write held past
// the replica's max hold fails cleanly; a lift for a map version published later releases the
// held writes only once that map is applied, and they land where the new map says.
import { createLogger } from "@dbplane/service-kit";
import { hashShardKey, RangeLookup, rangesFromText } from "@dbplane/sharding";
import { freePort, type ServiceReplica, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvFenceCoordinator } from "../src/fence/fence-coordinator.ts";
import { type FenceBuckets, openFenceBuckets } from "../src/fence/fence-documents.ts";
import { FenceTimeoutError } from "../src/fence/fence-errors.ts";
import { noFenceMetrics } from "../src/fence/fence-metrics.ts";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "fenced";
const shardedTables = [{ table: "items", keyColumn: "id", keyType: "bigint" as const }];
type Replica = ServiceReplica & { readonly pgPort: number };
type RangeText = { shard: number; from: string; to: string };

let world: RouterWorld;
let a: Replica;
let b: Replica;
/** Gives up held writes after 1 s. */
let impatient: Replica;
let buckets: FenceBuckets;
let fences: KvFenceCoordinator;
let ranges1: RangeText[];
let lookup: RangeLookup;
let nextKey = 1n;

beforeAll(async () => {
  world = await createRouterWorld(2, { application: true });
  const start = async (maxHoldMs: number): Promise<Replica> => {
    const pgPort = await freePort();
    const replica = await world.startReplica({
      env: { DBPLANE_ROUTER_PG_PORT: String(pgPort), DBPLANE_ROUTER_FENCE_MAX_HOLD_MS: String(maxHoldMs) },
    });
    return { ...replica, pgPort };
  };
  [a, b, impatient] = await Promise.all([start(60_000), start(60_000), start(1_000)]);
  await world.announce(DB, { shardedTables });
  for (const r of [a, b, impatient]) await waitForMap(r.base, world.token(), DB);
  for (const s of world.shards) {
    await s.pool.query("CREATE TABLE items (id bigint PRIMARY KEY, note text)");
    await s.pool.query(`ALTER TABLE items OWNER TO "${world.application!.user}"`);
  }
  const view = await waitForMap(a.base, world.token(), DB);
  ranges1 = view.shards
    .flatMap((s: { shard: number; ranges: { from: string; to: string }[] }) =>
      s.ranges.map((r) => ({ shard: s.shard, ...r })),
    )
    .sort((x: RangeText, y: RangeText) => (BigInt(x.from) < BigInt(y.from) ? -1 : 1));
  lookup = new RangeLookup(rangesFromText(ranges1));
  buckets = await openFenceBuckets(world.bus);
  fences = new KvFenceCoordinator({
    buckets,
    metrics: noFenceMetrics,
    logger: createLogger({ name: "fence-test", level: "silent" }),
    pollMs: 20,
  });
}, 120_000);
afterAll(async () => {
  await world?.dispose();
});

/** A key not used before whose shard under the first map is `shard`. */
function keyOn(shard: number): bigint {
  for (;;) {
    const key = nextKey++;
    if (lookup.shardFor(hashShardKey("bigint", String(key))) === shard) return key;
  }
}

const insert = (r: Replica, key: bigint) =>
  api(r.base, world.token(), "POST", `/v1/databases/${DB}/query`, {
    sql: "INSERT INTO items (id, note) VALUES ($1, 'http')",
    params: [String(key)],
    key: { type: "bigint", value: String(key) },
  });

async function wireClient(r: Replica): Promise<pg.Client> {
  const { user, password } = world.application!;
  const client = new pg.Client({ host: "127.0.0.1", port: r.pgPort, user, password, database: DB });
  await client.connect();
  return client;
}

/** Which shard databases hold the row. */
async function shardsHolding(key: bigint): Promise<number[]> {
  const found: number[] = [];
  for (const [i, s] of world.shards.entries()) {
    const { rowCount } = await s.pool.query("SELECT 1 FROM items WHERE id = $1", [String(key)]);
    if (rowCount === 1) found.push(i);
  }
  return found;
}

/** A promise's state, observable without waiting for it. */
function watch<T>(promise: Promise<T>) {
  const seen: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(seen, { settled: true, value }),
    (error: unknown) => Object.assign(seen, { settled: true, error }),
  );
  return seen;
}

const held = (r: Replica) => r.metric("dbplane_router_fence_writes_held_total", { database: DB });

/** The replica id of a router process, from its heartbeat. */
async function replicaIdOf(r: Replica): Promise<string> {
  for (const key of await buckets.replicas.keys()) {
    const beat = await buckets.replicas.get(key);
    if (beat !== undefined && beat.value.pid === r.svc.process.pid) return beat.value.replica;
  }
  throw new Error(`no heartbeat of ${r.name}`);
}

describe("write fence across router replicas", () => {
  it("an open wire transaction that wrote to the fenced shard delays the acknowledgement until it commits", async () => {
    const client = await wireClient(a);
    try {
      await client.query("BEGIN");
      const first = keyOn(0);
      await client.query(`INSERT INTO items (id, note) VALUES (${first}, 'tx')`);
      const raise = watch(fences.raise({ database: DB, shard: 0, id: "tx-ack", timeoutMs: 30_000 }));
      // Every other replica acknowledges; the one holding the transaction follows the fence but does not.
      const others = await Promise.all([replicaIdOf(b), replicaIdOf(impatient)]);
      await waitFor(async () => {
        const acked = await buckets.acks.keys(`${DB}.tx-ack.*`);
        return acked.length === 2 && (await a.metric("dbplane_router_fences", { state: "raised" })) === 1;
      });
      const acks = await Promise.all(
        (await buckets.acks.keys(`${DB}.tx-ack.*`)).map((k) => buckets.acks.get(k)),
      );
      expect(acks.map((x) => x?.value.replica).sort()).toEqual(others.sort());
      expect(raise.settled).toBe(false);
      // The transaction goes on writing to the shard it holds (no deadlock with the fence).
      await client.query("INSERT INTO items (id, note) VALUES ($1, 'tx')", [String(keyOn(0))]);
      expect(raise.settled).toBe(false);
      await client.query("COMMIT");
      await waitFor(() => raise.settled);
      expect(raise.error).toBeUndefined();
      const { replicas } = raise.value!;
      expect(replicas.sort()).toEqual([await replicaIdOf(a), ...others].sort());
      expect(await shardsHolding(first)).toEqual([0]);
    } finally {
      await fences.lift({ database: DB, id: "tx-ack" });
      await client.end();
    }
  });

  it("a replica that does not acknowledge makes the raise time out naming it, and leaves no fence raised", async () => {
    const stoppedId = await replicaIdOf(impatient);
    impatient.svc.process.kill("SIGSTOP");
    let error: unknown;
    try {
      await fences.raise({ database: DB, shard: 0, id: "stalled", timeoutMs: 2_000 });
    } catch (err) {
      error = err;
    } finally {
      impatient.svc.process.kill("SIGCONT");
    }
    expect(error).toBeInstanceOf(FenceTimeoutError);
    expect((error as FenceTimeoutError).replicas).toEqual([stoppedId]);
    expect((await buckets.fences.get(`${DB}.stalled`))?.value.state).toBe("lifted");
    // Resumed, the replica's load shedding may answer 503 for a moment (no event-loop samples
    // during the stop): the next test uses it once it is ready again.
    await waitFor(async () => (await fetch(`${impatient.base}/health/ready`)).status === 200);
    const res = await insert(a, keyOn(0));
    expect(res.status).toBe(200);
  });

  it("a write held past the max hold fails cleanly: HTTP 503, wire 40001, the session stays usable", async () => {
    await fences.raise({ database: DB, shard: 0, id: "too-long", timeoutMs: 30_000 });
    const client = await wireClient(impatient);
    try {
      const key = keyOn(0);
      const res = await insert(impatient, key);
      expect({ status: res.status, body: res.body }).toMatchObject({
        status: 503,
        body: { code: "WRITE_FENCED", shards: [0] },
      });
      const wire = await client.query("INSERT INTO items (id, note) VALUES ($1, 'wire')", [String(key)]).then(
        () => undefined,
        (err: { code?: string }) => err,
      );
      expect(wire?.code).toBe("40001");
      expect(
        (await client.query("SELECT count(*)::int AS n FROM items WHERE id = $1", [String(key)])).rows,
      ).toEqual([{ n: 0 }]);
      expect(await shardsHolding(key)).toEqual([]);
    } finally {
      await fences.lift({ database: DB, id: "too-long" });
      await client.end();
    }
  });

  it("holds writes to the fenced shard only; after a lift for a later map they land where that map says", async () => {
    const raised = await fences.raise({ database: DB, shard: 0, id: "split-1", timeoutMs: 30_000 });
    expect(raised.replicas.sort()).toEqual(
      (await Promise.all([a, b, impatient].map((r) => replicaIdOf(r)))).sort(),
    );
    const heldBefore = { a: await held(a), b: await held(b) };
    const httpKey = keyOn(0);
    const wireKey = keyOn(0);
    const httpWrite = watch(insert(a, httpKey));
    const client = await wireClient(b);
    try {
      const wireWrite = watch(
        client.query("INSERT INTO items (id, note) VALUES ($1, 'wire')", [String(wireKey)]),
      );
      await waitFor(async () => (await held(a)) > heldBefore.a && (await held(b)) > heldBefore.b);
      // Meanwhile: a write to shard 1 and a read of shard 0 pass, on both replicas.
      const other = keyOn(1);
      expect((await insert(b, other)).status).toBe(200);
      const read = await api(a.base, world.token(), "POST", `/v1/databases/${DB}/query`, {
        sql: "SELECT count(*)::int AS n FROM items WHERE id = $1",
        params: [String(httpKey)],
        key: { type: "bigint", value: String(httpKey) },
      });
      expect(read.status).toBe(200);
      expect(read.body.rows).toEqual([{ n: 0 }]);
      const reader = await wireClient(b);
      try {
        const rows = (
          await reader.query("SELECT count(*)::int AS n FROM items WHERE id = $1", [String(wireKey)])
        ).rows;
        expect(rows).toEqual([{ n: 0 }]);
      } finally {
        await reader.end();
      }
      expect(await shardsHolding(other)).toEqual([1]);
      expect([httpWrite.settled, wireWrite.settled]).toEqual([false, false]);

      // Lifted for version 2, which no replica has yet: still held.
      await fences.lift({ database: DB, id: "split-1", mapVersion: 2 });
      for (const r of [a, b]) {
        await waitFor(
          async () => (await r.metric("dbplane_router_fences", { database: DB, state: "lifted" })) === 1,
        );
      }
      expect([httpWrite.settled, wireWrite.settled]).toEqual([false, false]);
      expect([...(await shardsHolding(httpKey)), ...(await shardsHolding(wireKey))]).toEqual([]);

      // Version 2 gives shard 0's ranges to shard 1 (and 1's to 0): the held writes go to shard 1.
      const ranges2 = ranges1.map((r) => ({ ...r, shard: 1 - r.shard }));
      const published = await api(a.base, world.token(), "POST", `/v1/databases/${DB}/shard-map`, {
        expectedVersion: 1,
        ranges: ranges2,
      });
      expect(published.status).toBe(201);
      await waitFor(() => httpWrite.settled && wireWrite.settled, { timeoutMs: 20_000 });
      expect(httpWrite.value?.status).toBe(200);
      expect(httpWrite.value?.body).toMatchObject({ version: 2, shard: 1 });
      expect(wireWrite.error).toBeUndefined();
      expect(await shardsHolding(httpKey)).toEqual([1]);
      expect(await shardsHolding(wireKey)).toEqual([1]);
    } finally {
      await client.end();
    }
  });
});
