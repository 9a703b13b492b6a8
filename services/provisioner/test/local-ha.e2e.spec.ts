// The local driver's high availability, driven as the reconcile loop and the failover watcher
// drive it, against real PostgreSQL 15 servers: a 1-shard database with one replica.
import { chmod, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@dbplane/service-kit";
import { waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppCredentials } from "../src/domain/application-role.ts";
import type { DatabaseSpec } from "../src/domain/database-spec.ts";
import type { ShardDriver, ShardObservation } from "../src/drivers/driver.ts";
import { createLocalDriver } from "../src/drivers/local/local-driver.ts";
import { stopClusters } from "./provisioner-world.ts";

let dataDir: string;
let driver: ShardDriver;
let password: string;

const spec = (name: string, extra: Partial<DatabaseSpec> = {}): DatabaseSpec =>
  ({
    name,
    shards: 1,
    replicasPerShard: 1,
    postgresVersion: 15,
    storage: { size: "1Gi" },
    shardedTables: [],
    ...extra,
  }) as DatabaseSpec;

beforeAll(async () => {
  // Under /tmp and traversable: the servers run as the `postgres` user when tests run as root.
  dataDir = await mkdtemp(join(tmpdir(), "dbplane-ha-"));
  await chmod(dataDir, 0o711);
  driver = await createLocalDriver({
    dataDir,
    osUser: "postgres",
    router: { host: "127.0.0.1", port: 7432 },
    logger: createLogger({ name: "local-ha-test", level: "warn" }),
  });
});
afterAll(async () => {
  await stopClusters(dataDir);
  if (process.env.KEEP_HA_DIR) return;
  await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
}, 60_000);

const shardDir = (db: string) => join(dataDir, "clusters", db, "shard-0");
const postmasterPid = async (db: string, server: string) =>
  Number((await readFile(join(shardDir(db), server, "postmaster.pid"), "utf8")).split("\n")[0]);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A reconcile pass over the shard, as the reconcile loop makes it. */
async function reconcile(s: DatabaseSpec, app: AppCredentials, replicas = s.replicasPerShard) {
  return driver.ensureShard({ spec: s, shard: 0, replicas }, app);
}
const ready = (o: ShardObservation) => {
  if (!o.ready) throw new Error(`shard not ready: ${o.waitingFor}`);
  return o.endpoint;
};

async function withServer<T>(port: number, db: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: "dbplane", password, database: db });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Kills the shard's primary, then runs the failover as the watcher does once the grace is over. */
async function killAndFailOver(s: DatabaseSpec, server: string) {
  process.kill(await postmasterPid(s.name, server), "SIGKILL");
  await waitFor(async () => (await driver.failover!.probe(s, 0, 1_000)) === "dead", {
    what: "the killed primary seen dead",
  });
  const outcome = await driver.failover!.failOver(s, 0, 1_000);
  if (outcome.kind !== "promoted") throw new Error(`no failover: ${JSON.stringify(outcome)}`);
  return outcome;
}

describe("local driver failover and re-join", () => {
  const db = spec("hadb");
  let app: AppCredentials;

  it("tells a hung primary (down) from a killed one (dead), leaves the killed one to the failover, and fails over", async () => {
    app = await driver.ensureApplication(db);
    const endpoint = ready(await reconcile(db, app));
    password = (await readFile(join(shardDir(db.name), "password"), "utf8")).trim();
    await withServer(endpoint.primary.port, db.name, (c) => c.query("CREATE TABLE t (id int primary key)"));
    const pid = await postmasterPid(db.name, "primary");
    // Hung, not dead (its postmaster stopped, so it accepts no connection): silent but maybe
    // alive, so `down` — the failover waits out the full grace for it.
    process.kill(pid, "SIGSTOP");
    try {
      expect(await driver.failover!.probe(db, 0, 500)).toBe("down");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    expect(await driver.failover!.probe(db, 0, 5_000)).toBe("up");

    process.kill(pid, "SIGKILL");
    await waitFor(() => !alive(pid), { what: "the primary's postmaster gone" });
    // Refused, and its postmaster is gone from the host: certainly dead, no grace to wait out.
    expect(await driver.failover!.probe(db, 0, 1_000)).toBe("dead");

    // A reconcile pass inside the failover grace does not start the killed primary again.
    const during = await reconcile(db, app);
    expect(during.ready).toBe(false);
    expect(await postmasterPid(db.name, "primary")).toBe(pid);
    expect(alive(pid)).toBe(false);

    const outcome = await driver.failover!.failOver(db, 0, 1_000);
    expect(outcome.kind).toBe("promoted");
    expect(outcome.kind === "promoted" && outcome.newPrimary.port).toBe(endpoint.replicas[0]!.port);
  }, 120_000);

  it("re-joins the old primary as a replica of the new one (pg_rewind), and a second failover works", async () => {
    const oldPrimaryPid = await postmasterPid(db.name, "primary");
    // The next pass: the fenced old primary is rewound and started as the shard's replica.
    const after = ready(await reconcile(db, app));
    const newPrimary = after.primary.port;
    expect(after.replicas).toHaveLength(1);
    const rejoined = after.replicas[0]!.port;
    expect(await postmasterPid(db.name, "primary")).not.toBe(oldPrimaryPid);
    await withServer(newPrimary, db.name, (c) => c.query("INSERT INTO t SELECT generate_series(1, 100)"));
    await withServer(rejoined, db.name, async (c) => {
      expect((await c.query("SELECT pg_is_in_recovery() AS r")).rows[0].r).toBe(true);
      // It refuses writes.
      await expect(c.query("INSERT INTO t VALUES (1000)")).rejects.toMatchObject({ code: "25006" });
    });
    await waitFor(
      async () =>
        withServer(newPrimary, "postgres", async (c) => {
          const { rows } = await c.query(
            "SELECT slot_name FROM pg_replication_slots WHERE active AND slot_type = 'physical'",
          );
          return rows.length === 1 && rows[0].slot_name === "dbplane_primary";
        }),
      { what: "the re-joined old primary streaming from the new one through its slot" },
    );
    await waitFor(
      async () =>
        withServer(
          rejoined,
          db.name,
          async (c) => (await c.query("SELECT count(*)::int AS n FROM t")).rows[0].n === 100,
        ),
      { what: "the new primary's rows on the re-joined server" },
    );

    // Second failover: the promoted replica-1 is killed, the re-joined old primary takes over.
    const second = await killAndFailOver(db, "replica-1");
    expect(second.newPrimary.port).toBe(rejoined);
    await withServer(rejoined, db.name, async (c) => {
      expect((await c.query("SELECT pg_is_in_recovery() AS r")).rows[0].r).toBe(false);
      await c.query("INSERT INTO t VALUES (1000)");
      expect((await c.query("SELECT count(*)::int AS n FROM t")).rows[0].n).toBe(101);
    });
    // And replica-1 comes back as its replica in turn.
    const third = ready(await reconcile(db, app));
    expect(third.primary.port).toBe(rejoined);
    expect(third.replicas.map((r) => r.port)).toEqual([newPrimary]);
    await withServer(newPrimary, db.name, async (c) => {
      expect((await c.query("SELECT pg_is_in_recovery() AS r")).rows[0].r).toBe(true);
    });
  }, 180_000);
});

describe("synchronous mode", () => {
  const db = spec("syncdb", { replicasPerShard: 2, synchronous: { replicas: 1 } });

  it("makes a commit wait for a replica, and keeps every acknowledged write through a failover", async () => {
    const app = await driver.ensureApplication(db);
    const endpoint = ready(await reconcile(db, app));
    password = (await readFile(join(shardDir(db.name), "password"), "utf8")).trim();
    const primary = endpoint.primary.port;
    await withServer(primary, db.name, async (c) => {
      expect((await c.query("SHOW synchronous_standby_names")).rows[0].synchronous_standby_names).toBe(
        'ANY 1 ("dbplane_replica_1", "dbplane_replica_2")',
      );
      await c.query("CREATE TABLE acked (id int primary key)");
    });
    await waitFor(
      async () =>
        withServer(primary, "postgres", async (c) => {
          const { rows } = await c.query(
            "SELECT application_name FROM pg_stat_replication WHERE sync_state = 'quorum' ORDER BY 1",
          );
          return rows.map((r) => r.application_name).join(",") === "dbplane_replica_1,dbplane_replica_2";
        }),
      { what: "both replicas streaming as quorum standbys" },
    );

    // Writes, one commit at a time, until the primary dies under them; what was acknowledged counts.
    const acked: number[] = [];
    const writer = new pg.Client({
      host: "127.0.0.1",
      port: primary,
      user: "dbplane",
      password,
      database: db.name,
    });
    writer.on("error", () => {});
    await writer.connect();
    const writing = (async () => {
      for (let id = 1; ; id++) {
        try {
          await writer.query("INSERT INTO acked VALUES ($1)", [id]);
        } catch {
          return;
        }
        acked.push(id);
      }
    })();
    await waitFor(() => acked.length >= 200, { what: "200 acknowledged writes" });
    process.kill(await postmasterPid(db.name, "primary"), "SIGKILL");
    await writing;
    await writer.end().catch(() => {});
    expect(acked.length).toBeGreaterThanOrEqual(200);

    await waitFor(async () => (await driver.failover!.probe(db, 0, 1_000)) === "dead", {
      what: "the killed primary seen dead",
    });
    const outcome = await driver.failover!.failOver(db, 0, 1_000);
    if (outcome.kind !== "promoted") throw new Error(`no failover: ${JSON.stringify(outcome)}`);
    await withServer(outcome.newPrimary.port, db.name, async (c) => {
      const { rows } = await c.query<{ id: number }>("SELECT id FROM acked WHERE id = ANY($1)", [acked]);
      expect(rows.length).toBe(acked.length);
      // The new primary waits for the replica that is left.
      const other =
        outcome.newPrimary.port === endpoint.replicas[0]!.port ? "dbplane_replica_2" : "dbplane_replica_1";
      expect((await c.query("SHOW synchronous_standby_names")).rows[0].synchronous_standby_names).toBe(
        `ANY 1 ("${other}")`,
      );
      await c.query("INSERT INTO acked VALUES (0)");
    });
  }, 180_000);
});

describe("replication slots and DBPLANE_SLOT_MAX_LAG_BYTES", () => {
  const db = spec("lagdb");
  let app: AppCredentials;

  /** Stops a replica cleanly (SIGINT: fast shutdown) and waits until it is down. */
  const stopReplica = async (server: string) => {
    process.kill(await postmasterPid(db.name, server), "SIGINT");
    await waitFor(
      () =>
        stat(join(shardDir(db.name), server, "postmaster.pid")).then(
          () => false,
          () => true,
        ),
      { what: `${server} stopped` },
    );
  };
  /** `segments` WAL segments (16 MB each) written on the primary, then a checkpoint (which removes old WAL). */
  const writeWal = (port: number, segments: number, from: number) =>
    withServer(port, db.name, async (c) => {
      for (let i = 0; i < segments; i++) {
        await c.query("INSERT INTO t VALUES ($1)", [from + i]);
        await c.query("SELECT pg_switch_wal()");
      }
      await c.query("CHECKPOINT");
    });
  const rowsOn = (port: number) =>
    withServer(port, db.name, async (c) => (await c.query("SELECT count(*)::int AS n FROM t")).rows[0].n);

  it("keeps the WAL of a replica stopped for longer than wal_keep_size, which catches up when started", async () => {
    app = await driver.ensureApplication(db);
    const endpoint = ready(await reconcile(db, app));
    password = (await readFile(join(shardDir(db.name), "password"), "utf8")).trim();
    const primary = endpoint.primary.port;
    await withServer(primary, db.name, (c) => c.query("CREATE TABLE t (id int primary key)"));
    await withServer(primary, "postgres", async (c) => {
      expect((await c.query("SHOW max_slot_wal_keep_size")).rows[0].max_slot_wal_keep_size).toBe("1GB");
    });
    await stopReplica("replica-1");
    // 20 segments: 320 MB, more than wal_keep_size (256 MB).
    await writeWal(primary, 20, 1);
    const again = ready(await reconcile(db, app));
    await waitFor(async () => (await rowsOn(again.replicas[0]!.port)) === 20, {
      what: "the restarted replica caught up",
      timeoutMs: 60_000,
    });
  }, 180_000);

  it("drops the slot of a replica further behind than the bound, and copies the replica anew", async () => {
    const bounded = await createLocalDriver({
      dataDir,
      osUser: "postgres",
      router: { host: "127.0.0.1", port: 7432 },
      logger: createLogger({ name: "local-ha-test", level: "warn" }),
      slotMaxLagBytes: 16 * 1024 * 1024,
    });
    const target = { spec: db, shard: 0, replicas: 1 };
    const endpoint = ready(await bounded.ensureShard(target, app));
    const primary = endpoint.primary.port;
    await withServer(primary, "postgres", async (c) => {
      expect((await c.query("SHOW max_slot_wal_keep_size")).rows[0].max_slot_wal_keep_size).toBe("16MB");
    });
    await stopReplica("replica-1");
    // Past both wal_keep_size and the bound: the checkpoint invalidates the slot.
    await writeWal(primary, 20, 100);
    const status = await withServer(primary, "postgres", async (c) => {
      const { rows } = await c.query(
        "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'dbplane_replica_1'",
      );
      return rows[0]?.wal_status;
    });
    expect(status).toBe("lost");
    const after = ready(await bounded.ensureShard(target, app));
    await waitFor(async () => (await rowsOn(after.replicas[0]!.port)) === 40, {
      what: "the replica copied anew has every row",
      timeoutMs: 60_000,
    });
    await withServer(primary, "postgres", async (c) => {
      const { rows } = await c.query(
        "SELECT wal_status, active FROM pg_replication_slots WHERE slot_name = 'dbplane_replica_1'",
      );
      expect(rows[0]?.wal_status).not.toBe("lost");
    });
  }, 180_000);
});
