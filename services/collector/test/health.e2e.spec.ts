// One collector against a private primary/replica pair, the local MariaDB and Redis, and targets
// that cannot work: real replication lag turns the replica degraded and back, a stopped server
// is down with the reason and up again, and bad targets never hold up the good ones.
import { createServer, type Server } from "node:net";
import { freePort, type PostgresPair, startPostgresPair, waitFor } from "@dbplane/testkit";
import type { Subscription } from "@nats-io/transport-node";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CollectorWorld, createCollectorWorld, getJson } from "./collector-world.ts";
import { MARIADB_URL } from "./local-databases.ts";

const WRONG_PASSWORD = "wrong-Pa55word-for-test";
const BAD_USER = `coll_bad_${process.pid}`;

interface Target {
  id: string;
  health: { state: string; reason: string } | null;
  lastSample: { at: string; replicationLagBytes?: number; replicationLagSeconds?: number } | null;
}
interface HealthEvent {
  target: string;
  state: string;
  previousState?: string;
  reason: string;
}

let world: CollectorWorld;
let pair: PostgresPair;
let blackHole: Server;
let base: string;
let events: HealthEvent[] = [];
let sub: Subscription;

const target = (id: string) => getJson<Target>(`${base}/v1/targets/${encodeURIComponent(id)}`);
const healthIs = (id: string, state: string) =>
  waitFor(
    async () => {
      const t = await target(id);
      return t.health?.state === state ? t : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 100, what: `${id} to be ${state}` },
  );
const eventFor = (id: string, state: string) =>
  waitFor(() => events.find((e) => e.target === id && e.state === state), {
    what: `health-changed ${id} → ${state}`,
  });

beforeAll(async () => {
  pair = await startPostgresPair();
  const primary = new pg.Client({
    connectionString: `postgres://postgres@127.0.0.1:${pair.primaryPort}/postgres`,
  });
  await primary.connect();
  await primary.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  await primary.end();
  blackHole = createServer(() => {}).listen(0, "127.0.0.1");
  const admin = await mysql.createConnection(MARIADB_URL);
  await admin.query(`CREATE USER IF NOT EXISTS '${BAD_USER}'@'%' IDENTIFIED BY 'the-right-password'`);
  await admin.end();
  world = await createCollectorWorld({
    DBPLANE_COLLECTOR_INTERVAL_MS: "500",
    DBPLANE_COLLECTOR_TIMEOUT_MS: "1500",
    DBPLANE_COLLECTOR_CONNECT_TIMEOUT_MS: "1000",
    DBPLANE_COLLECTOR_CONCURRENCY: "4",
    DBPLANE_COLLECTOR_MAX_LAG_SECONDS: "1",
  });
  const holePort = (blackHole.address() as { port: number }).port;
  await world.setTargets([
    { name: "primary", url: `postgres://postgres@127.0.0.1:${pair.primaryPort}/postgres` },
    { name: "replica", url: `postgres://postgres@127.0.0.1:${pair.replicaPort}/postgres` },
    { name: "mariadb", url: `${MARIADB_URL}/mysql` },
    { name: "redis", url: `${world.redis.url}/0` },
    { name: "bad-password", url: `mysql://${BAD_USER}:${WRONG_PASSWORD}@127.0.0.1:3306/mysql` },
    { name: "black-hole", url: `postgres://postgres@127.0.0.1:${holePort}/postgres` },
    { name: "no-mongodb", url: `mongodb://127.0.0.1:${await freePort()}/admin` },
    { name: "unreachable", url: "postgres://postgres@10.255.255.1:5432/postgres" },
  ]);
  sub = world.nats.nc.subscribe(`${world.nats.namespace}.dbplane.evt.collector.target.health-changed`);
  void (async () => {
    for await (const msg of sub) events.push(msg.json<HealthEvent>());
  })();
  base = (await world.startReplica()).base;
}, 60_000);

afterAll(async () => {
  sub?.unsubscribe();
  await world?.dispose();
  await pair?.stop();
  blackHole?.close();
  const admin = await mysql.createConnection(MARIADB_URL);
  await admin.query(`DROP USER IF EXISTS '${BAD_USER}'@'%'`);
  await admin.end();
});

describe("target health", () => {
  it("turns a replica degraded while its replay is paused and writes go on, and up again after", async () => {
    await healthIs("replica", "up");
    const replica = new pg.Client({
      connectionString: `postgres://postgres@127.0.0.1:${pair.replicaPort}/postgres`,
    });
    const primary = new pg.Client({
      connectionString: `postgres://postgres@127.0.0.1:${pair.primaryPort}/postgres`,
    });
    await Promise.all([replica.connect(), primary.connect()]);
    await primary.query("CREATE TABLE IF NOT EXISTS ticks (n int)");
    await waitFor(async () => (await replica.query("SELECT to_regclass('ticks') AS t")).rows[0].t !== null);
    await replica.query("SELECT pg_wal_replay_pause()");
    const writing = setInterval(
      () => void primary.query("INSERT INTO ticks SELECT generate_series(1, 100)"),
      100,
    );
    try {
      const lagging = await healthIs("replica", "degraded");
      expect(lagging.health?.reason).toMatch(/replication lag .* exceeds 1 s/);
      expect(lagging.lastSample?.replicationLagBytes).toBeGreaterThan(0);
      expect((await eventFor("replica", "degraded")).previousState).toBe("up");
    } finally {
      clearInterval(writing);
    }
    await replica.query("SELECT pg_wal_replay_resume()");
    await healthIs("replica", "up");
    await eventFor("replica", "up");
    // The primary reports its worst replica's lag too; it recovers with it.
    await healthIs("primary", "up");
    // The primary's busiest statements over the interval, from pg_stat_statements.
    await waitFor(
      async () =>
        (await (await fetch(`${base}/metrics`)).text()).includes(
          'postgresql_statement_calls_rate{target="primary"',
        ),
      { what: "top statements of the primary" },
    );
    await Promise.all([replica.end(), primary.end()]);
  });

  it("reports a stopped server down with the reason, and up again when it is back", async () => {
    events = events.filter((e) => e.target !== "replica");
    await pair.stopReplica();
    const down = await healthIs("replica", "down");
    expect(down.health?.reason).toMatch(/connection refused|ECONNREFUSED|shutting down/);
    expect((await eventFor("replica", "down")).reason).toBe(down.health?.reason);
    await pair.startReplica();
    await healthIs("replica", "up");
    expect((await eventFor("replica", "up")).previousState).toBe("down");
  });

  it("keeps collecting good targets while bad ones fail, and never shows a password", async () => {
    const bad = {
      "bad-password": /access denied/i,
      "black-hole": /no answer within 1500 ms|timeout|timed out/i,
      "no-mongodb": /ECONNREFUSED|connection refused/,
      // Depending on the network: a connect timeout, or a reset from a firewall.
      unreachable: /timeout|timed out|no answer|unreachable|terminated/i,
    };
    for (const [id, reason] of Object.entries(bad)) {
      const t = await healthIs(id, "down");
      expect(t.health?.reason).toMatch(reason);
    }
    const count = (id: string) => world.collections().filter((c) => c.target === id).length;
    const [redisBefore, holeBefore] = [count("redis"), count("black-hole")];
    await waitFor(() => count("black-hole") >= holeBefore + 3, {
      timeoutMs: 15_000,
      what: "three more black-hole timeouts",
    });
    // Each black-hole collection waits out the whole timeout; the good targets keep their pace.
    expect(count("redis") - redisBefore).toBeGreaterThanOrEqual(4);
    expect((await target("mariadb")).health?.state).toBe("up");
    const everything =
      JSON.stringify(await getJson(`${base}/v1/targets`)) +
      JSON.stringify(events) +
      world.replicas[0]!.svc.output();
    expect(everything).not.toContain(WRONG_PASSWORD);
  });
});
