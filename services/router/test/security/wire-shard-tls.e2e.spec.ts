// Issue 16, item 8: the wire endpoint's pools (pgwire's BackendConnection) reach shards with
// verify-full too when DBPLANE_SHARD_TLS_CA is set: a client's statement runs on a TLS session.
import {
  createPostgresServer,
  freePort,
  makeTestCa,
  type PostgresServer,
  type TestCa,
} from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouterWorld, type RouterWorld, waitForMap } from "../router-world.ts";

let world: RouterWorld;
let ca: TestCa;
let server: PostgresServer;
let wirePort: number;

beforeAll(async () => {
  ca = await makeTestCa();
  server = await createPostgresServer({ walLevel: "replica", tls: await ca.issue("shard-0") });
  world = await createRouterWorld(1, { application: true });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE ROLE "${world.application!.user}" LOGIN`);
  await admin.query(`CREATE DATABASE "${world.shards[0]!.db.name}" OWNER "${world.application!.user}"`);
  await admin.end();
  wirePort = await freePort();
  const replica = await world.startReplica({
    env: { DBPLANE_ROUTER_PG_PORT: String(wirePort), DBPLANE_SHARD_TLS_CA: ca.certPath },
  });
  await world.announce("wiretls", { ports: [server.port] });
  await waitForMap(replica.base, world.token(), "wiretls");
}, 120_000);
afterAll(async () => {
  await world?.dispose();
  await server?.stop();
  await ca?.remove();
});

describe("wire endpoint to shards with a CA configured", () => {
  it("runs the client's statement on a verified TLS session to the shard", async () => {
    const client = new pg.Client({
      host: "127.0.0.1",
      port: wirePort,
      user: world.application!.user,
      password: world.application!.password,
      database: "wiretls",
    });
    await client.connect();
    try {
      const { rows } = await client.query<{ ssl: boolean; app: string }>(
        `SELECT s.ssl, a.application_name AS app
           FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.pid = pg_backend_pid()`,
      );
      expect(rows).toEqual([{ ssl: true, app: "dbplane-router-wire" }]);
    } finally {
      await client.end();
    }
  });
});
