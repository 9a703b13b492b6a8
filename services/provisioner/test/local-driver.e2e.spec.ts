import { readFile } from "node:fs/promises";
import { join } from "node:path";
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

beforeAll(async () => {
  world = await createProvisionerWorld();
  replica = await world.startReplica();
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

async function query<T extends pg.QueryResultRow>(port: number, password: string, db: string, sql: string) {
  const client = new pg.Client({ host: "127.0.0.1", port, user: "dbplane", password, database: db });
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

  it("creates 3 shards with 1 replica each: 6 servers accept the generated credentials", async () => {
    const created = await api.call("POST", "/v1/databases", {
      name,
      shards: 3,
      replicasPerShard: 1,
      postgresVersion: 15,
      storage: { size: "1Gi" },
      resources: { memory: "256Mi" },
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

  it("no password appears in any log line, event or HTTP response", async () => {
    expect(passwords).toHaveLength(3);
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
