// Issue 16, item 8 (review finding 10): with DBPLANE_SHARD_TLS_CA the router reaches shards with
// verify-full — over TLS, and only to a server whose certificate that CA issued for its address.
import {
  createPostgresServer,
  makeTestCa,
  type PostgresServer,
  type TestCa,
  waitFor,
} from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "../router-world.ts";

let world: RouterWorld;
let base: string;
let trusted: TestCa;
let other: TestCa;
/** Shard 0: a certificate from the configured CA. Shard 1: one from another CA. */
let servers: PostgresServer[] = [];
const DB = "tlsdb";
const call = (method: string, path: string, body?: unknown) => api(base, world.token(), method, path, body);

beforeAll(async () => {
  [trusted, other] = await Promise.all([makeTestCa(), makeTestCa()]);
  servers = await Promise.all([
    createPostgresServer({ walLevel: "replica", tls: await trusted.issue("shard-0") }),
    createPostgresServer({ walLevel: "replica", tls: await other.issue("shard-1") }),
  ]);
  world = await createRouterWorld(2);
  // Each private server gets the database the announcement names for its shard.
  for (const [i, server] of servers.entries()) {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${world.shards[i]!.db.name}"`);
    await admin.end();
  }
  base = (await world.startReplica({ env: { DBPLANE_SHARD_TLS_CA: trusted.certPath } })).base;
  await world.announce(DB, { ports: servers.map((s) => s.port) });
  await waitForMap(base, world.token(), DB);
}, 120_000);
afterAll(async () => {
  await world?.dispose();
  await Promise.all(servers.map((s) => s.stop()));
  await Promise.all([trusted?.remove(), other?.remove()]);
});

describe("router to shards with a CA configured (verify-full)", () => {
  it("queries a shard over TLS (pg_stat_ssl of its own session) and refuses the one another CA vouches for", async () => {
    const res = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
      allowPartial: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.complete).toBe(false);
    expect(res.body.rows).toHaveLength(1);
    expect(res.body.rows[0]).toMatchObject({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) });
    expect(res.body.shards[1]).toMatchObject({ shard: 1, error: { status: 503 } });
  });

  it("GET shards shows the shard with the foreign certificate down, the other up", async () => {
    await waitFor(async () => {
      const view = (await call("GET", `/v1/databases/${DB}/shards`)).body;
      const status = view.shards.map((s: { primary: { status: string } }) => s.primary.status);
      return status.join() === "up,down";
    });
  });
});
