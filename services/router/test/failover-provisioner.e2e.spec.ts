// The router and the real provisioner (local driver) on one bus: a 1-shard database with one
// replica, rows written through the router, then `kill -9` of the primary's postmaster. Without a
// person, the provisioner promotes the replica and announces shard.failed-over, the router's map
// names the new primary, writes through the router succeed again and the rows written before are
// there; the old primary comes back as a replica of the new one (pg_rewind). Then the shard gets
// two replicas (the re-joined one and a new one, through slots on the promoted primary), and a
// second kill promotes one of them while the other follows it.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type HttpClient, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionedWorld, FAST_FAILOVER_ENV, type ProvisionedWorld } from "./provisioned-world.ts";
import { type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "ledger";
const ROWS = 40;
let world: ProvisionedWorld;
let routers: RouterWorld;
let dataDir: string;
let router: HttpClient;
let routerBase: string;
let provisioner: HttpClient;

beforeAll(async () => {
  world = await createProvisionedWorld({
    dataDirPrefix: "dbplane-failover-",
    // Resync passes while the primary is down too: they leave it to the failover.
    provisionerEnv: { DBPLANE_RESYNC_INTERVAL_MS: "500", ...FAST_FAILOVER_ENV },
    database: DB,
  });
  ({ routers, dataDir, router, routerBase, provisioner } = world);
}, 120_000);
afterAll(() => world?.dispose(), 120_000);

const insert = (id: number) =>
  router.call("POST", `/v1/databases/${DB}/query`, {
    sql: "INSERT INTO orders (id, amount) VALUES ($1, $2)",
    params: [id, id % 100],
    key: { type: "bigint", value: id },
  });

const address = (s: { host: string; port: number }) => ({ host: s.host, port: s.port });
/** The primary after the first failover (the first test's replica). */
let firstPromoted: { host: string; port: number } | undefined;

/**
 * Writes a probe row through the router until the `count`-th shard.failed-over is out; the answers
 * seen (status, and the problem's code and message when it failed).
 */
async function writesUntilFailover(count: number): Promise<string[]> {
  const statuses: string[] = [];
  await waitFor(
    async () => {
      const res = await router.call("POST", `/v1/databases/${DB}/query`, {
        sql: "INSERT INTO probes (id) VALUES ($1)",
        params: [statuses.length],
        key: { type: "bigint", value: statuses.length },
      });
      statuses.push(res.status === 200 ? "200" : `${res.status} ${res.body?.code}: ${res.body?.detail}`);
      return (await routers.events("dbplane.evt.provisioner.shard.failed-over")).length >= count;
    },
    { what: `failover ${count}`, timeoutMs: 45_000, intervalMs: 200 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; the provisioner said:\n${world.provisionerTrouble()}`, { cause: err });
  });
  return statuses;
}

/**
 * Whether `pid` runs. A killed postmaster is re-parented to init, which may not have reaped it
 * yet (a zombie: kill(pid, 0) still succeeds) — now that a crashed primary fails over at once,
 * that is often so right after the failover.
 */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = (() => {
    try {
      return readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      return "";
    }
  })();
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
};

describe("local driver failover, with the real provisioner and router", () => {
  it("promotes the replica of a killed primary; writes through the router work again", async () => {
    const created = await provisioner.call("POST", "/v1/databases", {
      name: DB,
      shards: 1,
      replicasPerShard: 1,
      postgresVersion: 15,
      storage: { size: "1Gi" },
      shardedTables: [{ table: "orders", keyColumn: "id", keyType: "bigint" }],
    });
    expect(created.status).toBe(202);
    const before = await waitForMap(routerBase, routers.token(), DB, 1, 90_000);
    const oldPrimary = address(before.shards[0].primary);
    const replica = address(before.shards[0].replicas[0]);
    const migration = await router.call("POST", `/v1/databases/${DB}/migrations`, {
      id: "001-orders",
      statements: [
        "CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL)",
        // Written while the primary is down, to see how the router answers then (not counted:
        // a killed postmaster's orphaned backend may still commit one, which the replica never gets).
        "CREATE TABLE probes (id bigint)",
      ],
    });
    expect(migration.status).toBe(200);
    for (let id = 1; id <= ROWS; id++) expect((await insert(id)).status).toBe(200);

    const shardDir = join(dataDir, "clusters", DB, "shard-0");
    const password = (await readFile(join(shardDir, "password"), "utf8")).trim();
    const onReplica = new pg.Pool({ ...replica, database: DB, user: "dbplane", password, max: 1 });
    try {
      // The replica streams through its own slot on the primary.
      const onPrimary = new pg.Pool({ ...oldPrimary, database: DB, user: "dbplane", password, max: 1 });
      const slots = await onPrimary.query("SELECT slot_name, active FROM pg_replication_slots");
      await onPrimary.end();
      expect(slots.rows).toEqual([{ slot_name: "dbplane_replica_1", active: true }]);
      // Asynchronous replication: the rows are on the replica before the primary dies (synchronous
      // mode, which would make this wait unnecessary, is not built yet).
      await waitFor(
        async () => (await onReplica.query("SELECT count(*)::int AS n FROM orders")).rows[0].n === ROWS,
        { what: "the rows on the replica", timeoutMs: 30_000 },
      );
    } finally {
      await onReplica.end();
    }

    const pid = Number((await readFile(join(shardDir, "primary", "postmaster.pid"), "utf8")).split("\n")[0]);
    process.kill(pid, "SIGKILL");

    // Without a person: the provisioner fails the shard over. Meanwhile every write fails at once
    // with a retryable 503 (the primary is unreachable) or still lands on an orphaned backend of
    // the killed postmaster; none hangs.
    const answers = await writesUntilFailover(1);
    expect(answers.filter((answer) => answer !== "200" && !answer.startsWith("503 "))).toEqual([]);
    await waitFor(async () => (await insert(ROWS + 1)).status === 200, {
      what: "a write through the router after the failover",
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const after = (await router.call("GET", `/v1/databases/${DB}/shards`)).body;
    expect(address(after.shards[0].primary)).toEqual(replica);
    const count = await router.call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT count(*)::int AS n FROM orders",
    });
    expect(count.body.rows[0].n).toBe(ROWS + 1);

    const events = await routers.events("dbplane.evt.provisioner.shard.failed-over");
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ database: DB, shard: 0, oldPrimary, newPrimary: replica });
    expect(events[0]!.data.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    // The provisioner's own record names the new primary too.
    const atProvisioner = (await provisioner.call("GET", `/v1/databases/${DB}`)).body;
    expect(address(atProvisioner.shards[0].primary)).toEqual(replica);
    // The old primary never runs as a primary again: the next pass re-joins it as a replica of
    // the new one (pg_rewind), in recovery, on its own port.
    expect(alive(pid)).toBe(false);
    await waitFor(
      async () => {
        const m = (await router.call("GET", `/v1/databases/${DB}/shards`)).body;
        return m.shards[0].replicas.length === 1 && m.shards[0].replicas[0].port === oldPrimary.port;
      },
      { what: "the old primary back as the shard's replica", timeoutMs: 60_000 },
    );
    const onOld = new pg.Pool({ ...oldPrimary, database: DB, user: "dbplane", password, max: 1 });
    try {
      expect((await onOld.query("SELECT pg_is_in_recovery() AS r")).rows[0].r).toBe(true);
    } finally {
      await onOld.end();
    }
    // A backup (which makes sure the shard's primary runs) backs up the promoted server.
    const backup = await provisioner.call("POST", `/v1/databases/${DB}/backups`, {});
    expect(backup.status).toBe(202);
    const done = await waitFor(
      async () => {
        const op = (await provisioner.call("GET", `/v1/operations/${backup.body.operationId}`)).body;
        return op.state !== "pending" && op;
      },
      { what: "the backup", timeoutMs: 60_000 },
    );
    expect(done.state).toBe("succeeded");
    firstPromoted = replica;
  }, 180_000);

  it("makes new replicas from the promoted primary, and a second failover re-points the survivor", async () => {
    expect(firstPromoted).toBeDefined();
    const scaled = await provisioner.call("POST", `/v1/databases/${DB}/replicas`, { replicas: 2 });
    expect(scaled.status).toBe(202);
    // The re-joined old primary and replica-2 (replica-1 is the primary now), through slots on it.
    const map = await waitFor(
      async () => {
        const m = (await router.call("GET", `/v1/databases/${DB}/shards`)).body;
        return m.shards[0].replicas.length === 2 && m;
      },
      { what: "two replicas of the promoted primary in the map", timeoutMs: 90_000 },
    );
    expect(address(map.shards[0].primary)).toEqual(firstPromoted);
    const survivors = map.shards[0].replicas.map(address);
    const shardDir = join(dataDir, "clusters", DB, "shard-0");
    const password = (await readFile(join(shardDir, "password"), "utf8")).trim();
    const connect = (at: { host: string; port: number }) =>
      new pg.Pool({ ...at, database: DB, user: "dbplane", password, max: 1 });
    const promoted = connect(firstPromoted!);
    try {
      expect((await insert(ROWS + 2)).status).toBe(200);
      const slots = await waitFor(
        async () => {
          const { rows } = await promoted.query(
            "SELECT slot_name FROM pg_replication_slots WHERE active ORDER BY slot_name",
          );
          return rows.length === 2 && rows.map((r) => r.slot_name);
        },
        { what: "both replicas streaming from the promoted primary" },
      );
      // The re-joined old primary and a new replica-2.
      expect(slots).toEqual(["dbplane_primary", "dbplane_replica_2"]);
      // Both replicas have every row before the second failure.
      const { rows: lsn } = await promoted.query("SELECT pg_current_wal_lsn()::text AS at");
      await waitFor(
        async () => {
          const { rows } = await promoted.query(
            "SELECT count(*)::int AS n FROM pg_stat_replication WHERE replay_lsn >= $1::pg_lsn",
            [lsn[0].at],
          );
          return rows[0].n === 2;
        },
        { what: "both replicas caught up" },
      );
    } finally {
      await promoted.end();
    }

    const pid = Number(
      (await readFile(join(shardDir, "replica-1", "postmaster.pid"), "utf8")).split("\n")[0],
    );
    process.kill(pid, "SIGKILL");
    await writesUntilFailover(2);
    await waitFor(async () => (await insert(ROWS + 3)).status === 200, {
      what: "a write through the router after the second failover",
      timeoutMs: 45_000,
      intervalMs: 200,
    });
    const events = await routers.events("dbplane.evt.provisioner.shard.failed-over");
    expect(events).toHaveLength(2);
    const second = events[1]!.data as { oldPrimary: unknown; newPrimary: { host: string; port: number } };
    expect(second.oldPrimary).toEqual(firstPromoted);
    expect(survivors).toContainEqual(second.newPrimary);
    const count = await router.call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT count(*)::int AS n FROM orders",
    });
    expect(count.body.rows[0].n).toBe(ROWS + 3);
    // The replica that was not promoted now streams from the new primary, through its slot there.
    const other = survivors.find((r: { port: number }) => r.port !== second.newPrimary.port)!;
    const newest = connect(second.newPrimary);
    try {
      const streaming = await waitFor(
        async () => {
          const { rows } = await newest.query("SELECT slot_name FROM pg_replication_slots WHERE active");
          return rows.length === 1 && rows[0].slot_name;
        },
        { what: "the other replica streaming from the newest primary" },
      );
      expect(["dbplane_primary", "dbplane_replica_2", "dbplane_replica_1"]).toContain(streaming);
    } finally {
      await newest.end();
    }
    const follower = connect(other);
    try {
      const { rows } = await follower.query("SELECT pg_is_in_recovery() AS r");
      expect(rows[0].r).toBe(true);
    } finally {
      await follower.end();
    }
    // And the killed replica-1 is re-joined in turn: the shard has its two replicas again.
    await waitFor(
      async () => {
        const m = (await router.call("GET", `/v1/databases/${DB}/shards`)).body;
        return m.shards[0].replicas.some((r: { port: number }) => r.port === firstPromoted!.port);
      },
      { what: "replica-1 re-joined as a replica", timeoutMs: 60_000 },
    );
  }, 180_000);
});
