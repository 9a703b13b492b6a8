// The router and the real provisioner (local driver: PostgreSQL clusters made with initdb) on one
// bus: a split of a 2-shard database has the provisioner add shard 2; cancelled while copying,
// the router gives the shard back with remove-shard, the provisioner stops and deletes its
// cluster and announces shard.removed, and the router's map is the 2-shard map again — clients
// read every row as before.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type HttpClient, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionedWorld, type ProvisionedWorld } from "./provisioned-world.ts";
import { type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "stock";
const ROWS = 2_000;
let world: ProvisionedWorld;
let routers: RouterWorld;
let dataDir: string;
let router: HttpClient;
let routerBase: string;
let provisioner: HttpClient;

interface ShardResource {
  shard: number;
  state: string;
  primary: { host: string; port: number } | null;
  dbname: string | null;
  user: string | null;
  passwordRef: { kind: "file"; path: string } | null;
}

beforeAll(async () => {
  world = await createProvisionedWorld({
    dataDirPrefix: "dbplane-prov-",
    routerWorldEnv: { DBPLANE_ROUTER_RESHARD_POLL_MS: "200", DBPLANE_ROUTER_RESHARD_LEASE_MS: "3000" },
    database: DB,
  });
  ({ routers, dataDir, router, routerBase, provisioner } = world);
}, 120_000);
afterAll(() => world?.dispose(), 120_000);

const databaseAtProvisioner = () => provisioner.call("GET", `/v1/databases/${DB}`).then((r) => r.body);

/** A superuser pool to one of the provisioner's shards (the password from its 0600 file). */
async function shardPool(shard: ShardResource): Promise<pg.Pool> {
  return new pg.Pool({
    host: shard.primary!.host,
    port: shard.primary!.port,
    database: shard.dbname!,
    user: shard.user!,
    password: (await readFile(shard.passwordRef!.path, "utf8")).trim(),
    max: 2,
  });
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe("a split's added shard, with the real provisioner", () => {
  it("is dropped by the provisioner and leaves the map when the split is cancelled", async () => {
    const created = await provisioner.call("POST", "/v1/databases", {
      name: DB,
      shards: 2,
      postgresVersion: 15,
      storage: { size: "1Gi" },
      shardedTables: [{ table: "orders", keyColumn: "id", keyType: "bigint" }],
    });
    expect(created.status).toBe(202);
    const before = await waitForMap(routerBase, routers.token(), DB, 1, 90_000);
    expect(before.shards).toHaveLength(2);
    // The router reshards as each shard's reshard role, never as its superuser (`user`).
    for (const s of before.shards)
      expect(s).toMatchObject({ user: "dbplane", reshardUser: "dbplane_reshard" });
    const migration = await router.call("POST", `/v1/databases/${DB}/migrations`, {
      id: "001-orders",
      statements: ["CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL)"],
    });
    expect(migration.status).toBe(200);
    // Each shard loaded directly with the keys it owns (version 1: shard 0 the hashes below 0).
    const shards: ShardResource[] = (await databaseAtProvisioner()).shards;
    for (const [i, cmp] of [
      [0, "<"],
      [1, ">="],
    ] as const) {
      const pool = await shardPool(shards[i]!);
      await pool.query(
        `INSERT INTO orders SELECT g, g % 100 FROM generate_series(1, ${ROWS}) g WHERE hashint8extended(g, 0) ${cmp} 0`,
      );
      await pool.end();
    }

    const started = await router.call("POST", `/v1/databases/${DB}/splits`, { shard: 0 });
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    // Shard 2 is made by the provisioner; the copy into it is held by a lock on its orders.
    const added: ShardResource = await waitFor(
      async () => {
        const db = await databaseAtProvisioner();
        const s = db.shards.find((x: ShardResource) => x.shard === 2);
        return s?.state === "ready" && s;
      },
      { what: "shard 2 at the provisioner", timeoutMs: 90_000 },
    );
    const shard2Dir = join(dataDir, "clusters", DB, "shard-2");
    expect(await exists(shard2Dir)).toBe(true);
    const pool2 = await shardPool(added);
    const lock = await waitFor(
      async () => {
        const c = await pool2.connect();
        try {
          await c.query("BEGIN");
          await c.query("LOCK TABLE orders IN SHARE MODE");
          return c;
        } catch {
          await c.query("ROLLBACK").catch(() => {});
          c.release();
          return undefined;
        }
      },
      { what: "orders on shard 2", timeoutMs: 90_000, intervalMs: 100 },
    );
    try {
      await waitFor(
        async () => (await router.call("GET", `/v1/databases/${DB}/reshards/${id}`)).body.phase === "copying",
        { what: "the copy", timeoutMs: 60_000 },
      );
      expect((await router.call("POST", `/v1/databases/${DB}/reshards/${id}/cancel`)).status).toBe(202);
    } finally {
      await lock.query("ROLLBACK");
      lock.release();
      await pool2.end();
    }
    const ended = await waitFor(
      async () => {
        const r = (await router.call("GET", `/v1/databases/${DB}/reshards/${id}`)).body;
        return r.state !== "running" && r;
      },
      { what: "the cancel", timeoutMs: 60_000 },
    );
    expect(ended).toMatchObject({ state: "cancelled", addedShard: 2 });

    // The provisioner drops shard 2: a new version with two shards, its directory gone.
    const db = await waitFor(
      async () => {
        const d = await databaseAtProvisioner();
        return d.state === "ready" && d.shards.length === 2 && d;
      },
      { what: "the provisioner without shard 2", timeoutMs: 90_000 },
    );
    expect(db.shards.map((s: ShardResource) => s.shard)).toEqual([0, 1]);
    expect(await exists(shard2Dir)).toBe(false);
    // The router's map without it, the ranges as before.
    const after = await waitFor(
      async () => {
        const m = (await router.call("GET", `/v1/databases/${DB}/shards`)).body;
        return m.shards.length === 2 && m.version > before.version && m;
      },
      { what: "the map without shard 2", timeoutMs: 60_000 },
    );
    expect(after.shards.map((s: { shard: number; ranges: unknown }) => [s.shard, s.ranges])).toEqual(
      before.shards.map((s: { shard: number; ranges: unknown }) => [s.shard, s.ranges]),
    );
    const count = await router.call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT count(*)::int AS n FROM orders",
    });
    expect(count.status).toBe(200);
    expect(count.body.rows.reduce((sum: number, r: { n: number }) => sum + r.n, 0)).toBe(ROWS);
    const source = await shardPool(db.shards[0]);
    try {
      expect((await source.query("SELECT count(*)::int AS n FROM pg_replication_slots")).rows[0].n).toBe(0);
    } finally {
      await source.end();
    }
  }, 300_000);
});
