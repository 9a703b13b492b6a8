// Reads through the wire endpoint from a streaming replica: with SET dbplane.read_from = replica
// a read goes to the replica once it is up and within the lag bound, a write still to the
// primary; a read-only transaction runs on the replica. inet_server_port() tells which server
// answered.
import { freePort, type PostgresPair, startPostgresPair, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "mirroredwire";
let pair: PostgresPair;
let world: RouterWorld;
let client: pg.Client;

const serverPort = async (sql: string) => Number((await client.query(sql)).rows[0].port);

beforeAll(async () => {
  pair = await startPostgresPair();
  world = await createRouterWorld(1, { application: true });
  const { user, password } = world.application!;
  // The shard's database on the pair, owned by the application role (roles replicate too).
  const dbname = world.shards[0]!.db.name;
  const admin = new pg.Client({
    host: "127.0.0.1",
    port: pair.primaryPort,
    user: "postgres",
    database: "postgres",
  });
  await admin.connect();
  await admin.query(`CREATE ROLE "${user}" LOGIN PASSWORD '${password}'`);
  await admin.query(`CREATE DATABASE "${dbname}" OWNER "${user}"`);
  await admin.end();
  const owner = new pg.Client({ host: "127.0.0.1", port: pair.primaryPort, user, database: dbname });
  await owner.connect();
  await owner.query("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)");
  await owner.end();
  const port = await freePort();
  const { base } = await world.startReplica({
    env: { DBPLANE_ROUTER_PG_PORT: String(port), DBPLANE_ROUTER_MAX_REPLICA_LAG_MS: "5000" },
  });
  await world.announce(DB, {
    ports: [pair.primaryPort],
    replicas: [[{ host: "127.0.0.1", port: pair.replicaPort }]],
    shardedTables: [{ table: "t", keyColumn: "id", keyType: "integer" }],
  });
  await waitForMap(base, world.token(), DB);
  client = new pg.Client({ host: "127.0.0.1", port, user, password, database: DB });
  await client.connect();
}, 120_000);
afterAll(async () => {
  await client?.end();
  await world?.dispose();
  await pair?.stop();
});

describe("replica reads through the wire endpoint", () => {
  it("reads from the primary by default, from the replica with dbplane.read_from = replica; writes stay on the primary", async () => {
    expect(await serverPort("SELECT inet_server_port() AS port FROM t WHERE id = 1")).toBe(pair.primaryPort);
    await client.query("SET dbplane.read_from = replica");
    // The replica serves once the router's probe has seen it up and within the bound.
    await waitFor(
      async () =>
        (await serverPort("SELECT inet_server_port() AS port FROM t WHERE id = 1")) === pair.replicaPort,
      { what: "a keyed read served by the replica", timeoutMs: 20_000, intervalMs: 100 },
    );
    const written = await client.query("INSERT INTO t (id) VALUES (2) RETURNING inet_server_port() AS port");
    expect(Number(written.rows[0].port)).toBe(pair.primaryPort);
    await client.query("RESET dbplane.read_from");
    expect(await serverPort("SELECT inet_server_port() AS port FROM t WHERE id = 1")).toBe(pair.primaryPort);
  });

  it("runs a read-only transaction on the replica", async () => {
    await client.query("BEGIN READ ONLY");
    expect(await serverPort("SELECT inet_server_port() AS port FROM t WHERE id = 1")).toBe(pair.replicaPort);
    await client.query("COMMIT");
    await client.query("BEGIN");
    expect(await serverPort("SELECT inet_server_port() AS port FROM t WHERE id = 1")).toBe(pair.primaryPort);
    await client.query("COMMIT");
  });
});
