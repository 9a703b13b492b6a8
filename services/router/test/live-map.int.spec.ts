// Which role the router's pools log in as: the database's application role when the map names
// one (routed statements then run with the application's privileges), the shard's user otherwise.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PasswordResolver } from "@dbplane/kube";
import { createLogger } from "@dbplane/service-kit";
import { createTestDatabase, type TestDatabase, testServerUrls, uniqueName } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initialShardMap } from "../src/domain/shard-map.ts";
import { buildLiveMap, releaseLiveMap } from "../src/shards/live-map.ts";
import { ServerPoolRegistry } from "../src/shards/server-pool-registry.ts";

const logger = createLogger({ name: "live-map-test", level: "silent" });
const admin = () => new pg.Client({ connectionString: testServerUrls().postgres });
let shard: TestDatabase;
let role: string;
let dir: string;

beforeAll(async () => {
  shard = await createTestDatabase("livemap");
  role = uniqueName("app");
  dir = await mkdtemp(join(tmpdir(), "live-map-"));
  await writeFile(join(dir, "password"), "app-password\n", { mode: 0o600 });
  await writeFile(join(dir, "verifier"), "unused\n", { mode: 0o600 });
  const client = admin();
  await client.connect();
  try {
    await client.query(`CREATE ROLE "${role}" LOGIN NOSUPERUSER`);
  } finally {
    await client.end();
  }
});
afterAll(async () => {
  await shard?.drop();
  const client = admin();
  await client.connect();
  try {
    if (role) await client.query(`DROP ROLE IF EXISTS "${role}"`);
  } finally {
    await client.end();
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("live map", () => {
  it("connects as the application role and exposes it with the sharded tables", async () => {
    const url = new URL(testServerUrls().postgres);
    const endpoint = {
      shard: 0,
      primary: { host: url.hostname, port: Number(url.port || 5432) },
      replicas: [],
      dbname: shard.name,
      user: decodeURIComponent(url.username || "postgres"),
      passwordRef: { kind: "file" as const, path: join(dir, "missing-superuser-password") },
    };
    const application = {
      user: role,
      passwordRef: { kind: "file" as const, path: join(dir, "password") },
      verifierRef: { kind: "file" as const, path: join(dir, "verifier") },
    };
    const shardedTables = [{ table: "orders", keyColumn: "id", keyType: "bigint" as const }];
    const ready = { name: "shop", version: 1, postgresVersion: 15, shards: [endpoint], shardedTables };
    const limits = { max: 2, statementTimeoutMs: 5_000, connectTimeoutMs: 5_000 };
    const pools = new ServerPoolRegistry(
      limits,
      0,
      logger,
      new PasswordResolver({ kind: "none", reason: "test" }, { dataDir: dir, namespace: "default" }),
    );

    const asApp = await buildLiveMap(initialShardMap({ ...ready, application }, new Date()), pools);
    expect(asApp.application).toEqual(application);
    expect(asApp.shardedTables).toEqual(shardedTables);
    const primary = asApp.shards.get(0)!.primary;
    expect(primary.unusable).toBeUndefined();
    const who = await primary.pool.query<{ current_user: string }>("SELECT current_user");
    expect(who.rows[0]?.current_user).toBe(role);

    // Without an application role (a map from before the provisioner made one): the shard's user.
    const asShardUser = await buildLiveMap(initialShardMap(ready, new Date()), pools);
    expect(asShardUser.application).toBeUndefined();
    expect(asShardUser.shards.get(0)!.primary.address.user).toBe(endpoint.user);
    releaseLiveMap(asApp, pools);
    releaseLiveMap(asShardUser, pools);
    await primary.close();
  });
});
