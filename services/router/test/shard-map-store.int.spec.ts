// The shard map's two homes: PostgreSQL admits each version once; the KV bucket only moves
// forward, whatever order concurrent writers arrive in.
import { connectBus } from "@dbplane/bus";
import { createLogger } from "@dbplane/service-kit";
import { createTestNats, createTestSchema, type TestNats, type TestSchema } from "@dbplane/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { initialShardMap, type ShardMapDocument, shardMapDocument } from "../src/domain/shard-map.ts";
import { ShardMapPublisher } from "../src/shards/shard-map-publisher.ts";
import {
  createRouterStore,
  MigrationConflictError,
  type RouterStore,
  ShardMapVersionConflictError,
} from "../src/store/router-store.ts";

const logger = createLogger({ name: "router-store-test", level: "silent" });
const endpoint = (shard: number) => ({
  shard,
  primary: { host: "127.0.0.1", port: 5432 },
  replicas: [],
  dbname: `db_${shard}`,
  user: "postgres",
  passwordRef: { kind: "file" as const, path: "/tmp/pw" },
});
const v1 = initialShardMap(
  { name: "shop", version: 1, postgresVersion: 17, shards: [endpoint(0), endpoint(1)], shardedTables: [] },
  new Date(),
);
const next = (doc: ShardMapDocument): ShardMapDocument => ({ ...doc, version: doc.version + 1 });

let schema: TestSchema;
let store: RouterStore;
let nats: TestNats;

beforeEach(async () => {
  schema = await createTestSchema("router_store");
  store = createRouterStore(schema.pool, schema.name);
  await store.migrate();
  await store.migrate(); // idempotent
  nats = await createTestNats();
});
afterEach(async () => {
  await schema.drop();
  await nats.cleanup();
});

describe("router store", () => {
  it("admits each version once and only as the next one", async () => {
    await store.insertMap(v1);
    await expect(store.insertMap(v1)).rejects.toBeInstanceOf(ShardMapVersionConflictError);
    await expect(store.insertMap(next(next(v1)))).rejects.toBeInstanceOf(ShardMapVersionConflictError);
    const racers = await Promise.allSettled(Array.from({ length: 5 }, () => store.insertMap(next(v1))));
    expect(racers.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect((await store.latestMap("shop"))?.version).toBe(2);
    expect((await store.latestMaps()).map((m) => m.version)).toEqual([2]);
  });

  it("keeps a version's sharded tables and application role", async () => {
    const application = {
      user: "app",
      passwordRef: { kind: "secret" as const, namespace: "dbplane", name: "shop-app", key: "password" },
      verifierRef: { kind: "secret" as const, namespace: "dbplane", name: "shop-app", key: "verifier" },
    };
    const shardedTables = [{ table: "public.orders", keyColumn: "id", keyType: "bigint" as const }];
    await store.insertMap({ ...v1, application, shardedTables });
    const stored = await store.latestMap("shop");
    expect(stored?.application).toEqual(application);
    expect(stored?.shardedTables).toEqual(shardedTables);
  });

  it("records a migration once; the same id with other statements is a conflict", async () => {
    expect(await store.recordMigration("shop", "001", ["CREATE TABLE a (id int)"])).toBe(true);
    expect(await store.recordMigration("shop", "001", ["CREATE TABLE a (id int)"])).toBe(false);
    await expect(store.recordMigration("shop", "001", ["DROP TABLE a"])).rejects.toBeInstanceOf(
      MigrationConflictError,
    );
    await store.recordMigration("shop", "002", ["ALTER TABLE a ADD b int"]);
    expect((await store.migrations("shop")).map((m) => m.id)).toEqual(["001", "002"]);
  });
});

describe("publishing to the bucket", () => {
  it("never moves the bucket backwards and repairs it from the store", async () => {
    const bus = await connectBus({
      servers: nats.url,
      name: "router-test",
      logger,
      namespace: nats.namespace,
    });
    try {
      await bus.ensureTopology();
      const kv = await bus.kv<ShardMapDocument>("shardmaps", { schema: shardMapDocument });
      expect(kv.bucket).toBe(`${nats.namespace}_dbplane_shardmaps`);
      const publisher = new ShardMapPublisher(store, kv, bus, logger);
      await publisher.publish(v1);
      await publisher.publish(next(v1));
      // A late writer holding version 1 (stored long ago) cannot put it back.
      await kv.updateWith("shop", (current) => (current && current.version >= 1 ? undefined : v1));
      expect((await kv.get("shop"))?.value.version).toBe(2);

      // The store got version 3 but the process died before the bucket write: reconcile repairs.
      await store.insertMap(next(next(v1)));
      expect((await kv.get("shop"))?.value.version).toBe(2);
      await publisher.reconcile();
      expect((await kv.get("shop"))?.value.version).toBe(3);

      // Deleted: the store forgot the database but the process died before the bucket delete.
      expect(await store.forgetDatabase("shop")).toBe(true);
      expect(await store.forgetDatabase("shop")).toBe(false);
      expect(await store.latestMap("shop")).toBeUndefined();
      expect((await kv.get("shop"))?.value.version).toBe(3);
      await publisher.reconcile();
      expect(await kv.get("shop")).toBeUndefined();
      expect(await kv.keys()).toEqual([]);
      // The name is free again: a new database starts at version 1.
      await publisher.publish(v1);
      expect((await kv.get("shop"))?.value.version).toBe(1);
    } finally {
      await bus.close();
    }
  });
});
