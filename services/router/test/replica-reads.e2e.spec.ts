// readOnly work goes to a streaming replica while its replay lag is under the bound, leaves it
// while it lags (replay paused on the replica), and comes back once it has caught up.
import { type PostgresPair, startPostgresPair, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "mirrored";
let world: RouterWorld;
let pair: PostgresPair;
let base: string;
let shardPrimary: pg.Pool;
let shardReplica: pg.Pool;
const call = (body: unknown) => api(base, world.token(), "POST", `/v1/databases/${DB}/query`, body);
const read = () =>
  call({ sql: "SELECT count(*)::int AS n FROM t", key: { type: "integer", value: 1 }, readOnly: true });

beforeAll(async () => {
  pair = await startPostgresPair();
  world = await createRouterWorld(1);
  // The shard's database on the pair carries the same name the announcement gives it.
  const dbname = world.shards[0]!.db.name;
  const admin = new pg.Client({
    host: "127.0.0.1",
    port: pair.primaryPort,
    user: "postgres",
    database: "postgres",
  });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbname}"`);
  await admin.end();
  shardPrimary = new pg.Pool({
    host: "127.0.0.1",
    port: pair.primaryPort,
    user: "postgres",
    database: dbname,
    max: 2,
  });
  shardReplica = new pg.Pool({
    host: "127.0.0.1",
    port: pair.replicaPort,
    user: "postgres",
    database: dbname,
    max: 2,
  });
  await shardPrimary.query("CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
  base = (await world.startReplica({ env: { DBPLANE_ROUTER_MAX_REPLICA_LAG_MS: "300" } })).base;
  await world.announce(DB, {
    ports: [pair.primaryPort],
    replicas: [[{ host: "127.0.0.1", port: pair.replicaPort }]],
  });
  await waitForMap(base, world.token(), DB);
}, 120_000);
afterAll(async () => {
  await shardPrimary?.end();
  await shardReplica?.end();
  await world?.dispose();
  await pair?.stop();
});

describe("reads from replicas under the lag bound", () => {
  it("serves readOnly from the replica, from the primary while the replica lags, and back", async () => {
    const fromReplica = await waitFor(
      async () => {
        const res = await read();
        return res.status === 200 && res.body.server === "replica" ? res.body : undefined;
      },
      { timeoutMs: 20_000, what: "a read served by the replica" },
    );
    expect(fromReplica.rows).toEqual([{ n: 1 }]);

    // Writes through the router go to the primary even when a replica is eligible.
    const write = await call({ sql: "INSERT INTO t VALUES (2)", key: { type: "integer", value: 1 } });
    expect(write.body.server).toBe("primary");

    await shardReplica.query("SELECT pg_wal_replay_pause()");
    // Keep committing on the primary so the replica falls behind by more than the bound.
    const lagging = await waitFor(
      async () => {
        await shardPrimary.query("INSERT INTO t VALUES (3)");
        const res = await read();
        return res.body.server === "primary" ? res.body : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: "the lagging replica to be skipped" },
    );
    expect(lagging.rows[0].n).toBeGreaterThanOrEqual(3);
    const view = await api(base, world.token(), "GET", `/v1/databases/${DB}/shards`);
    expect(view.body.shards[0].replicas[0]).toMatchObject({ status: "up", eligible: false });
    expect(view.body.shards[0].replicas[0].lagMs).toBeGreaterThan(300);

    await shardReplica.query("SELECT pg_wal_replay_resume()");
    const caughtUp = await waitFor(
      async () => {
        const res = await read();
        return res.body.server === "replica" ? res.body : undefined;
      },
      { timeoutMs: 20_000, what: "the caught-up replica to serve again" },
    );
    expect(caughtUp.rows[0].n).toBeGreaterThanOrEqual(lagging.rows[0].n);
  });
});
