import { describe, expect, it } from "vitest";
import {
  addShard,
  backupCompleted,
  type CreateDatabase,
  createDatabase,
  databaseReady,
  deleteDatabase,
  parseMessageData,
  runBackup,
  scaleReplicas,
  shardReady,
} from "../src/index.ts";
import { expectRejected } from "./payload-check.ts";

const minimal = { name: "orders", storage: { size: "10Gi" } };

const shard = {
  database: "orders",
  shard: 0,
  primary: { host: "orders-shard-0.dbplane.svc", port: 5432 },
  replicas: [{ host: "orders-shard-0-r1.dbplane.svc", port: 5432 }],
  dbname: "orders",
  user: "dbplane",
  passwordRef: { kind: "secret", namespace: "dbplane", name: "orders-shard-0-credentials", key: "password" },
};

describe("provisioner messages", () => {
  it("create-database applies the documented defaults; the PostgreSQL version is the provisioner's choice", () => {
    const data: CreateDatabase = parseMessageData(createDatabase, minimal);
    expect(data).toEqual({
      ...minimal,
      shards: 1,
      replicasPerShard: 0,
      shardedTables: [],
    });
    expect(data.postgresVersion).toBeUndefined();
  });

  it("create-database accepts a full sharded spec", () => {
    const full = {
      name: "orders-eu-1",
      shards: 64,
      replicasPerShard: 5,
      postgresVersion: 15,
      storage: { size: "1.5Ti", storageClass: "fast-ssd" },
      resources: { cpu: "500m", memory: "2Gi" },
      shardedTables: [
        { table: "public.orders", keyColumn: "customer_id", keyType: "bigint" },
        { table: "events", keyColumn: "tenant", keyType: "uuid" },
      ],
    };
    expect(parseMessageData(createDatabase, full)).toEqual(full);
  });

  it.each([
    [{ ...minimal, name: "Orders" }, "name"],
    [{ ...minimal, name: "orders-" }, "name"],
    [{ ...minimal, name: "a".repeat(41) }, "name"],
    [{ ...minimal, shards: 0 }, "shards"],
    [{ ...minimal, shards: 65 }, "shards"],
    [{ ...minimal, shards: 1.5 }, "shards"],
    [{ ...minimal, replicasPerShard: 6 }, "replicasPerShard"],
    [{ ...minimal, postgresVersion: 14 }, "postgresVersion"],
    [{ ...minimal, postgresVersion: 19 }, "postgresVersion"],
    [{ ...minimal, storage: { size: "10 GB" } }, "storage.size"],
    [{ ...minimal, storage: {} }, "storage.size"],
    [{ ...minimal, resources: { cpu: "-1" } }, "resources.cpu"],
    [{ ...minimal, resources: { memory: "lots" } }, "resources.memory"],
    [
      { ...minimal, shardedTables: [{ table: "t", keyColumn: "k", keyType: "float" }] },
      "shardedTables.0.keyType",
    ],
    [
      { ...minimal, shardedTables: [{ table: "t;drop", keyColumn: "k", keyType: "text" }] },
      "shardedTables.0.table",
    ],
    [
      { ...minimal, shardedTables: [{ table: "t", keyColumn: "k k", keyType: "text" }] },
      "shardedTables.0.keyColumn",
    ],
    [{ ...minimal, extra: true }, ""],
  ])("create-database rejects %j at %j", (data, path) => {
    expectRejected(createDatabase, data, path);
  });

  it("rejects duplicate sharded tables", () => {
    const table = { table: "t", keyColumn: "k", keyType: "text" };
    expectRejected(createDatabase, { ...minimal, shardedTables: [table, table] }, "shardedTables");
  });

  it("other commands: defaults and bounds", () => {
    expect(parseMessageData(deleteDatabase, { name: "orders" })).toEqual({
      name: "orders",
      keepVolumes: true,
    });
    expect(parseMessageData(addShard, { name: "orders" })).toEqual({ name: "orders", count: 1 });
    expect(parseMessageData(scaleReplicas, { name: "orders", replicas: 2 })).toEqual({
      name: "orders",
      replicas: 2,
    });
    expectRejected(scaleReplicas, { name: "orders", replicas: 6 }, "replicas");
    expectRejected(scaleReplicas, { name: "orders", shard: -1, replicas: 1 }, "shard");
    expectRejected(addShard, { name: "orders", count: 0 }, "count");
    expectRejected(runBackup, { name: "orders", backupId: "a:b" }, "backupId");
    expectRejected(deleteDatabase, { name: "orders", keepVolumes: "no" }, "keepVolumes");
  });

  it("shard.ready accepts secret and file password references", () => {
    expect(parseMessageData(shardReady, shard)).toEqual(shard);
    const local = {
      ...shard,
      replicas: [],
      passwordRef: { kind: "file", path: "/var/lib/dbplane/orders-0.pass" },
    };
    expect(parseMessageData(shardReady, local)).toEqual(local);
  });

  it("shard.ready rejects a password, anywhere", () => {
    expectRejected(shardReady, { ...shard, password: "hunter2" }, "");
    expectRejected(
      shardReady,
      { ...shard, passwordRef: { kind: "inline", value: "hunter2" } },
      "passwordRef.kind",
    );
    expectRejected(
      shardReady,
      { ...shard, passwordRef: { kind: "file", path: "/p", password: "x" } },
      "passwordRef",
    );
    expectRejected(shardReady, { ...shard, primary: { host: "h", port: 70000 } }, "primary.port");
  });

  it("database.ready lists shard endpoints; sharded tables default to none and the application role is optional", () => {
    const { database: _, ...endpoint } = shard;
    const ready = { name: "orders", version: 3, postgresVersion: 17, shards: [endpoint] };
    expect(parseMessageData(databaseReady, ready)).toEqual({ ...ready, shardedTables: [] });
    expectRejected(databaseReady, { ...ready, shards: [{ ...endpoint, user: "" }] }, "shards.0.user");
  });

  it("database.ready carries the sharded tables and references to the application role's secrets", () => {
    const { database: _, ...endpoint } = shard;
    const application = {
      user: "app",
      passwordRef: { kind: "secret", namespace: "dbplane", name: "orders-app", key: "password" },
      verifierRef: { kind: "file", path: "/var/lib/dbplane/clusters/orders/app/verifier" },
    };
    const ready = {
      name: "orders",
      version: 3,
      postgresVersion: 17,
      shards: [endpoint],
      shardedTables: [{ table: "orders", keyColumn: "customer_id", keyType: "bigint" }],
      application,
    };
    expect(parseMessageData(databaseReady, ready)).toEqual(ready);
    expectRejected(
      databaseReady,
      { ...ready, application: { ...application, user: "" } },
      "application.user",
    );
    expectRejected(
      databaseReady,
      { ...ready, application: { ...application, password: "s3cret" } },
      "application",
    );
    expectRejected(
      databaseReady,
      { ...ready, shardedTables: [{ table: "orders", keyColumn: "k", keyType: "float" }] },
      "shardedTables.0.keyType",
    );
  });

  it("backup.completed needs ordered RFC 3339 times", () => {
    const ok = {
      database: "orders",
      shard: 1,
      backupId: "nightly-2026-01-01",
      location: "s3://backups/orders/1",
      bytes: 123456789,
      startedAt: "2026-01-01T00:00:00Z",
      completedAt: "2026-01-01T00:05:00+00:00",
    };
    expect(parseMessageData(backupCompleted, ok)).toEqual(ok);
    expectRejected(backupCompleted, { ...ok, startedAt: "yesterday" }, "startedAt");
    expectRejected(backupCompleted, { ...ok, completedAt: "2025-12-31T23:00:00Z" }, "completedAt");
    expectRejected(backupCompleted, { ...ok, bytes: -1 }, "bytes");
  });
});
