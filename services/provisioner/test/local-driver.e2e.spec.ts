import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseScramVerifier } from "@dbplane/pgwire";
import { type HttpClient, httpClient, type ServiceReplica, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createProvisionerWorld,
  isDirectory,
  type ProvisionerWorld,
  postmastersUnder,
} from "./provisioner-world.ts";

// Real PostgreSQL 15 clusters on this machine: 3 shards × (primary + 1 replica) = 6 servers.
let world: ProvisionerWorld;
let replica: ServiceReplica;
let api: HttpClient;

const router = { host: "127.0.0.1", port: 7432 };
beforeAll(async () => {
  world = await createProvisionerWorld();
  replica = await world.startReplica({
    env: {
      DBPLANE_PROVISIONER_ROUTER_PG_HOST: router.host,
      DBPLANE_PROVISIONER_ROUTER_PG_PORT: String(router.port),
      // Ready databases are reconciled again and again: the application's password must survive it.
      DBPLANE_RESYNC_INTERVAL_MS: "500",
    },
  });
  api = httpClient(replica.base, world.token());
}, 60_000);
afterAll(() => world?.dispose(), 120_000);

/** The operation once it left `pending`. */
const settled = (operationId: string) =>
  waitFor(
    async () => {
      const r = await api.call("GET", `/v1/operations/${operationId}`);
      return r.body.state !== "pending" && r.body;
    },
    { timeoutMs: 60_000, what: `operation ${operationId} to settle` },
  );

async function query<T extends pg.QueryResultRow>(
  port: number,
  password: string,
  db: string,
  sql: string,
  user = "dbplane",
) {
  const client = new pg.Client({ host: "127.0.0.1", port, user, password, database: db });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("local driver: a sharded database made of real PostgreSQL clusters", () => {
  const name = "orders";
  const passwords: string[] = [];
  const appDir = () => join(world.dataDir, "clusters", name, "app");
  const shardedTables = [{ table: "orders", keyColumn: "customer_id", keyType: "bigint" }];

  it("creates 3 shards with 1 replica each: 6 servers accept the generated credentials", async () => {
    const created = await api.call("POST", "/v1/databases", {
      name,
      shards: 3,
      replicasPerShard: 1,
      postgresVersion: 15,
      storage: { size: "1Gi" },
      resources: { memory: "256Mi" },
      shardedTables,
    });
    expect(created.status).toBe(202);
    const operationId = created.body.operationId as string;

    const op = await waitFor(
      async () => {
        const res = await api.call("GET", `/v1/operations/${operationId}`);
        return res.body.state !== "pending" && res.body;
      },
      { timeoutMs: 180_000, intervalMs: 250 },
    );
    expect(op).toMatchObject({ state: "succeeded", kind: "create" });

    const db = (await api.call("GET", `/v1/databases/${name}`)).body;
    expect(db.state).toBe("ready");
    expect(db.shards).toHaveLength(3);
    expect(postmastersUnder(world.dataDir)).toHaveLength(6);

    for (const shard of db.shards) {
      expect(shard.passwordRef.kind).toBe("file");
      const password = (await readFile(shard.passwordRef.path, "utf8")).trim();
      passwords.push(password);
      expect(password.length).toBeGreaterThanOrEqual(32);
      const mode = (await import("node:fs/promises")).stat(shard.passwordRef.path);
      expect((await mode).mode & 0o777).toBe(0o600);
      const [primary] = await query<{ ok: number }>(shard.primary.port, password, name, "SELECT 1 AS ok");
      expect(primary?.ok).toBe(1);
      await expect(query(shard.primary.port, "wrong-password", name, "SELECT 1")).rejects.toThrow(
        /password authentication failed/,
      );
      expect(shard.readReplicas).toHaveLength(1);

      await query(
        shard.primary.port,
        password,
        name,
        `CREATE TABLE t (shard int); INSERT INTO t VALUES (${shard.shard})`,
      );
      const rows = await waitFor(async () => {
        const r = await query<{ shard: number }>(
          shard.readReplicas[0].port,
          password,
          name,
          "SELECT shard FROM t",
        ).catch(() => []);
        return r.length > 0 && r;
      });
      expect(rows).toEqual([{ shard: shard.shard }]);
      const [standby] = await query<{ r: boolean }>(
        shard.readReplicas[0].port,
        password,
        name,
        "SELECT pg_is_in_recovery() AS r",
      );
      expect(standby?.r).toBe(true);
      // The replica streams through its own physical slot: the primary keeps the WAL it has not
      // received yet, however far behind wal_keep_size it falls.
      const slots = await query(
        shard.primary.port,
        password,
        name,
        "SELECT slot_name, slot_type, active FROM pg_replication_slots",
      );
      expect(slots).toEqual([{ slot_name: "dbplane_replica_1", slot_type: "physical", active: true }]);
    }

    const events = await waitFor(async () => {
      const all = await world.events();
      return all.some((e) => e.type.endsWith("database.ready.v1")) && all;
    });
    expect(
      events
        .filter((e) => e.type.endsWith("shard.ready.v1"))
        .map((e) => e.data.shard)
        .sort(),
    ).toEqual([0, 1, 2]);
    const ready = events.filter((e) => e.type.endsWith("database.ready.v1"));
    expect(ready).toHaveLength(1);
    expect(ready[0]?.correlationId).toBe(operationId);
    expect(events.find((e) => e.type.endsWith("database.requested.v1"))?.data).toMatchObject({
      name,
      shards: 3,
      version: 1,
    });
  }, 240_000);

  it("gives the application an owner role on every shard, its credentials in 0600 files pointing at the router", async () => {
    const dir = appDir();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await readdir(dir)).sort()).toEqual(["jdbc-uri", "password", "uri", "username", "verifier"]);
    const file = async (key: string) => {
      expect((await stat(join(dir, key))).mode & 0o777).toBe(0o600);
      return readFile(join(dir, key), "utf8");
    };
    const password = await file("password");
    const verifier = await file("verifier");
    passwords.push(password, verifier);
    expect(password).toMatch(/^[\x21-\x7e]{32,}$/);
    expect(await file("username")).toBe("app");
    const encoded = encodeURIComponent(password);
    expect(await file("uri")).toBe(`postgresql://app:${encoded}@127.0.0.1:7432/${name}`);
    expect(await file("jdbc-uri")).toBe(
      `jdbc:postgresql://127.0.0.1:7432/${name}?user=app&password=${encoded}`,
    );

    // The stored verifier is the password's: StoredKey = H(HMAC(SaltedPassword, "Client Key")).
    const parsed = parseScramVerifier(verifier);
    const salted = pbkdf2Sync(password, parsed.salt, parsed.iterations, 32, "sha256");
    const clientKey = createHmac("sha256", salted).update("Client Key").digest();
    expect(createHash("sha256").update(clientKey).digest().equals(parsed.storedKey)).toBe(true);
    expect(createHmac("sha256", salted).update("Server Key").digest().equals(parsed.serverKey)).toBe(true);

    const db = (await api.call("GET", `/v1/databases/${name}`)).body;
    for (const shard of db.shards) {
      const superuser = (await readFile(shard.passwordRef.path, "utf8")).trim();
      // What PostgreSQL stored is the verifier, not something it derived from a password.
      const [stored] = await query<{ rolpassword: string }>(
        shard.primary.port,
        superuser,
        "postgres",
        "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'",
      );
      expect(stored?.rolpassword).toBe(verifier);
      // The shards authenticate with scram-sha-256 (initdb --auth), so this login is SCRAM.
      const [role] = await query<Record<string, unknown>>(
        shard.primary.port,
        password,
        name,
        `SELECT current_user, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication, r.rolbypassrls,
                pg_get_userbyid(d.datdba) AS owner
           FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()`,
        "app",
      );
      expect(role).toEqual({
        current_user: "app",
        rolsuper: false,
        rolcreatedb: false,
        rolcreaterole: false,
        rolreplication: false,
        rolbypassrls: false,
        owner: "app",
      });
      await query(
        shard.primary.port,
        password,
        name,
        "CREATE TABLE app_made (id bigint PRIMARY KEY); INSERT INTO app_made VALUES (1)",
        "app",
      );
      const [made] = await query<{ n: number }>(
        shard.primary.port,
        password,
        name,
        "SELECT count(*)::int AS n FROM public.app_made",
        "app",
      );
      expect(made?.n).toBe(1);
      await expect(query(shard.primary.port, password, name, "CREATE DATABASE nope", "app")).rejects.toThrow(
        /permission denied/,
      );
      await expect(query(shard.primary.port, `${password}x`, name, "SELECT 1", "app")).rejects.toThrow(
        /password authentication failed/,
      );
      // The role reaches the replica by streaming replication.
      const onReplica = await waitFor(async () => {
        const r = await query<{ u: string }>(
          shard.readReplicas[0].port,
          password,
          name,
          "SELECT current_user AS u",
          "app",
        ).catch(() => []);
        return r.length > 0 && r;
      });
      expect(onReplica).toEqual([{ u: "app" }]);
    }

    // database.ready names the role and where its secrets are — references only.
    const ready = (await world.events()).find((e) => e.type.endsWith("database.ready.v1"));
    expect(ready?.data.shardedTables).toEqual(shardedTables);
    expect(ready?.data.application).toEqual({
      user: "app",
      passwordRef: { kind: "file", path: join(dir, "password") },
      verifierRef: { kind: "file", path: join(dir, "verifier") },
    });
    expect(ready?.raw).not.toContain(password);
    expect(ready?.raw).not.toContain(verifier);
  }, 120_000);

  it("gives the collector a pg_monitor role on every shard: statistics yes, data and programs no", async () => {
    const db = (await api.call("GET", `/v1/databases/${name}`)).body;
    const ready = (await world.events()).filter((e) => e.type.endsWith("shard.ready.v1"));
    for (const shard of db.shards) {
      const announced = ready.find((e) => e.data.shard === shard.shard)?.data.monitoring as {
        user: string;
        passwordRef: { kind: "file"; path: string };
      };
      expect(announced).toEqual({
        user: "dbplane_monitor",
        passwordRef: { kind: "file", path: expect.any(String) },
      });
      expect((await stat(announced.passwordRef.path)).mode & 0o777).toBe(0o600);
      const password = (await readFile(announced.passwordRef.path, "utf8")).trim();
      passwords.push(password);
      const as = (sql: string) =>
        query<Record<string, unknown>>(shard.primary.port, password, name, sql, "dbplane_monitor");
      expect(
        await as(`SELECT r.rolsuper, r.rolcreaterole, r.rolreplication, pg_has_role(current_user, 'pg_monitor', 'MEMBER') AS monitor
                    FROM pg_roles r WHERE r.rolname = current_user`),
      ).toEqual([{ rolsuper: false, rolcreaterole: false, rolreplication: false, monitor: true }]);
      // What the collector reads: statistics of every database and of replication.
      expect((await as("SELECT count(*)::int AS n FROM pg_stat_replication"))[0]?.n).toBe(1);
      expect((await as("SELECT pg_database_size(current_database()) > 0 AS sized"))[0]?.sized).toBe(true);
      // Not the application's rows, not the server's programs or files.
      await expect(as("SELECT * FROM public.app_made")).rejects.toMatchObject({ code: "42501" });
      await expect(as("CREATE TEMP TABLE o (l text); COPY o FROM PROGRAM 'id'")).rejects.toMatchObject({
        code: "42501",
      });
    }
  }, 60_000);

  it("keeps the application's password across reconciles and a restart of the provisioner", async () => {
    const dir = appDir();
    const before = await Promise.all(
      ["password", "verifier", "uri"].map((k) => readFile(join(dir, k), "utf8")),
    );
    replica = await world.restartReplica(replica);
    api = httpClient(replica.base, world.token());
    const idle = () => replica.metric("dbplane_provisioner_reconcile_passes_total", { outcome: "idle" });
    await waitFor(async () => (await idle()) >= 3, {
      timeoutMs: 30_000,
      what: "3 idle passes after the restart",
    });
    const after = await Promise.all(
      ["password", "verifier", "uri"].map((k) => readFile(join(dir, k), "utf8")),
    );
    expect(after).toEqual(before);
    const db = (await api.call("GET", `/v1/databases/${name}`)).body;
    for (const shard of db.shards) {
      const [ok] = await query<{ u: string }>(
        shard.primary.port,
        before[0]!,
        name,
        "SELECT current_user AS u",
        "app",
      );
      expect(ok?.u).toBe("app");
    }
  }, 90_000);

  it("backs every shard up with pg_dump into the data directory", async () => {
    const res = await api.call("POST", `/v1/databases/${name}/backups`, { backupId: "nightly-1" });
    expect(res.status).toBe(202);
    const op = await settled(res.body.operationId);
    expect(op.state).toBe("succeeded");
    // The operation ends in the same transaction that queues the last event; publishing follows.
    const completed = await waitFor(async () => {
      const all = (await world.events()).filter((e) => e.type.endsWith("backup.completed.v1"));
      return all.length === 3 && all;
    });
    expect(completed.map((e) => e.data.shard).sort()).toEqual([0, 1, 2]);
    for (const e of completed) {
      expect(String(e.data.location)).toContain(join(world.dataDir, "backups", name, "nightly-1"));
      expect(Number(e.data.bytes)).toBeGreaterThan(0);
    }
    const again = await api.call("POST", `/v1/databases/${name}/backups`, { backupId: "nightly-1" });
    expect(again.body).toMatchObject({ outcome: "unchanged", operationId: res.body.operationId });
    const list = await api.call("GET", `/v1/databases/${name}/backups`);
    expect(list.status).toBe(200);
    expect(list.body.items.map((b: { shard: number }) => b.shard)).toEqual([0, 1, 2]);
    for (const b of list.body.items) {
      expect(b).toMatchObject({
        backupId: "nightly-1",
        state: "completed",
        operationId: res.body.operationId,
      });
      expect(b.bytes).toBeGreaterThan(0);
      expect(Date.parse(b.completedAt)).toBeGreaterThanOrEqual(Date.parse(b.startedAt));
    }
    expect((await api.call("GET", "/v1/databases/no-such-db/backups")).status).toBe(404);
  }, 90_000);

  it("delete stops every server and removes its data", async () => {
    const res = await api.call("DELETE", `/v1/databases/${name}?keepVolumes=false`);
    expect(res.status).toBe(202);
    const op = await settled(res.body.operationId);
    expect(op.state).toBe("succeeded");
    expect(postmastersUnder(world.dataDir)).toEqual([]);
    expect(await isDirectory(join(world.dataDir, "clusters", name))).toBe(false);
    expect((await api.call("GET", `/v1/databases/${name}`)).status).toBe(404);
    const deleted = await waitFor(async () =>
      (await world.events()).find((e) => e.type.endsWith("database.deleted.v1")),
    );
    expect(deleted.data).toEqual({ name, volumesKept: false });
  }, 90_000);

  it("no password (nor the application's verifier) appears in any log line, event or HTTP response", async () => {
    expect(passwords).toHaveLength(8);
    const events = (await world.events()).map((e) => e.raw).join("\n");
    const logs = world.output();
    expect(logs.length).toBeGreaterThan(0);
    for (const password of passwords) {
      expect(logs).not.toContain(password);
      expect(events).not.toContain(password);
      expect(api.bodies.join("\n")).not.toContain(password);
    }
  });
});
