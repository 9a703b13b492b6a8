// A router replica on a NATS server of the test's own, stopped mid-transaction: once the
// replica cannot renew its heartbeat it admits no write by itself — a wire transaction that
// wrote cannot commit (a coordinator may have passed the replica by and moved the shard's rows),
// it is rolled back with SQLSTATE 40001 and the session stays usable — and once NATS is back,
// writes flow again.
import {
  freePort,
  type PrivateNatsServer,
  type ServiceReplica,
  startPrivateNatsServer,
  waitFor,
} from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "leased";
let nats: PrivateNatsServer;
let world: RouterWorld;
let replica: ServiceReplica;
let pgPort: number;
let natsDown = false;

beforeAll(async () => {
  nats = await startPrivateNatsServer();
  world = await createRouterWorld(1, {
    application: true,
    natsUrl: nats.url,
    env: {
      DBPLANE_ROUTER_FENCE_HEARTBEAT_MS: "200",
      DBPLANE_ROUTER_FENCE_LEASE_MS: "2000",
      DBPLANE_ROUTER_FENCE_MAX_HOLD_MS: "1000",
    },
  });
  pgPort = await freePort();
  replica = await world.startReplica({ env: { DBPLANE_ROUTER_PG_PORT: String(pgPort) } });
  await world.announce(DB, { shardedTables: [{ table: "items", keyColumn: "id", keyType: "bigint" }] });
  await waitForMap(replica.base, world.token(), DB);
  const shard = world.shards[0]!;
  await shard.pool.query("CREATE TABLE items (id bigint PRIMARY KEY)");
  await shard.pool.query(`ALTER TABLE items OWNER TO "${world.application!.user}"`);
}, 120_000);
afterAll(async () => {
  if (natsDown) await nats.start();
  await world?.dispose();
  await nats?.dispose();
});

const admitting = () => replica.metric("dbplane_router_fence_admitting");

describe("a router replica that cannot renew its heartbeat", () => {
  it("refuses to commit a transaction that wrote (40001, rolled back), keeps the session, and admits writes again once it renews", async () => {
    const { user, password } = world.application!;
    const client = new pg.Client({ host: "127.0.0.1", port: pgPort, user, password, database: DB });
    await client.connect();
    try {
      expect(await admitting()).toBe(1);
      await client.query("BEGIN");
      await client.query("INSERT INTO items (id) VALUES (1)");
      natsDown = true;
      await nats.stop();
      await waitFor(async () => (await admitting()) === 0);
      const commit = await client.query("COMMIT").then(
        () => undefined,
        (err: { code?: string }) => err,
      );
      expect(commit?.code).toBe("40001");
      expect((await world.shards[0]!.pool.query("SELECT id FROM items")).rows).toEqual([]);
      // The session is usable: idle, reads answer, a write is held and refused the same way.
      expect((await client.query("SELECT id FROM items")).rows).toEqual([]);
      const write = await client.query("INSERT INTO items (id) VALUES (2)").then(
        () => undefined,
        (err: { code?: string }) => err,
      );
      expect(write?.code).toBe("40001");

      await nats.start();
      natsDown = false;
      await waitFor(async () => (await admitting()) === 1, { timeoutMs: 30_000 });
      await client.query("BEGIN");
      await client.query("INSERT INTO items (id) VALUES (3)");
      await client.query("COMMIT");
      expect((await world.shards[0]!.pool.query("SELECT id::int FROM items")).rows).toEqual([{ id: 3 }]);
    } finally {
      await client.end();
    }
  });

  it("rolls back an HTTP transaction whose COMMIT comes after the lease lapsed: 503 WRITE_FENCED", async () => {
    const shard = world.shards[0]!;
    const locker = await shard.pool.connect();
    try {
      await locker.query("SELECT pg_advisory_lock(42)");
      const tx = api(replica.base, world.token(), "POST", `/v1/databases/${DB}/transaction`, {
        key: { type: "bigint", value: 10 },
        statements: [
          { sql: "INSERT INTO items (id) VALUES (10)" },
          { sql: "SELECT pg_advisory_xact_lock(42)" },
        ],
      });
      // The transaction has written and waits for the lock: the lease lapses under it.
      await waitFor(async () => {
        const { rowCount } = await shard.pool.query(
          "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%'",
        );
        return rowCount === 1;
      });
      natsDown = true;
      await nats.stop();
      await waitFor(async () => (await admitting()) === 0);
      await locker.query("SELECT pg_advisory_unlock(42)");
      const res = await tx;
      expect(res.status).toBe(503);
      expect(res.body.code).toBe("WRITE_FENCED");
      expect((await shard.pool.query("SELECT id FROM items WHERE id = 10")).rows).toEqual([]);
    } finally {
      locker.release();
      if (natsDown) {
        await nats.start();
        natsDown = false;
      }
    }
    await waitFor(async () => (await admitting()) === 1, { timeoutMs: 30_000 });
  });
});
