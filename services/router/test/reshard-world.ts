// A router world whose shards are private PostgreSQL servers with wal_level=logical (the shared
// server's level is replica): what an online split needs to replicate from source to target.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { databaseReady } from "@dbplane/contracts";
import { createScramVerifier } from "@dbplane/pgwire";
import {
  createPostgresServer,
  disposeOnFailure,
  freePort,
  type JsonResponse,
  type PostgresServer,
  strayRows,
  uniqueName,
  waitFor,
} from "@dbplane/testkit";
import pg from "pg";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

export const DB = "shop";
/** The application role on every shard. */
export const APP = "app";

export interface ReshardWorld {
  readonly world: RouterWorld;
  readonly servers: PostgresServer[];
  /** A pool straight to each shard's database, by shard index. */
  readonly pools: pg.Pool[];
  readonly routers: {
    base: string;
    pgPort: number;
    pid: number;
    alive: boolean;
    stop(signal?: NodeJS.Signals): Promise<unknown>;
  }[];
  readonly call: (method: string, path: string, body?: unknown) => Promise<JsonResponse>;
  /** Announces the first `count` shards as the provisioner would (count grows: new shards own no range). */
  announce(count: number): Promise<void>;
  startRouter(): Promise<ReshardWorld["routers"][number]>;
  dispose(): Promise<void>;
}

export async function createReshardWorld(
  shardCount: number,
  options: { env?: Record<string, string>; routers?: number } = {},
): Promise<ReshardWorld> {
  const world = await createRouterWorld(0, {
    env: {
      DBPLANE_ROUTER_RESHARD_POLL_MS: "200",
      DBPLANE_ROUTER_RESHARD_LEASE_MS: "3000",
      ...options.env,
    },
  });
  // A failed start (a router not ready in time under load) stops what was started.
  return disposeOnFailure(
    () => world.dispose(),
    async () => {
      const servers: PostgresServer[] = [];
      const pools: pg.Pool[] = [];
      world.defer(async () => {
        await Promise.all(pools.map((p) => p.end()));
        await Promise.all(servers.map((s) => s.stop()));
      });
      await Promise.all(
        Array.from({ length: shardCount }, async (_, i) => {
          const server = await createPostgresServer();
          servers[i] = server;
          const admin = new pg.Client({ connectionString: server.url });
          await admin.connect();
          // The application role, as the provisioner makes it: owner of the database, not a superuser.
          // The router's pools connect as it, so row-level security binds what they read.
          await admin.query(`CREATE ROLE ${APP} LOGIN`);
          await admin.query(`CREATE DATABASE ${DB} OWNER ${APP}`);
          await admin.end();
          pools[i] = new pg.Pool({ connectionString: server.url.replace(/\/postgres$/, `/${DB}`), max: 2 });
        }),
      );
      const appPassword = join(world.passwordFile, "..", "app-password");
      const appVerifier = join(world.passwordFile, "..", "app-verifier");
      await writeFile(appPassword, "app-password\n", { mode: 0o600 });
      await writeFile(appVerifier, `${createScramVerifier("app-password")}\n`, { mode: 0o600 });
      const routers: ReshardWorld["routers"] = [];
      let version = 0;
      const token = world.token();
      const self: ReshardWorld = {
        world,
        servers,
        pools,
        routers,
        call: (method, path, body) => api(routers.find((r) => r.alive)!.base, token, method, path, body),
        async announce(count) {
          version++;
          await world.bus.publish(
            databaseReady,
            {
              name: DB,
              version: 1,
              postgresVersion: 15,
              shards: servers.slice(0, count).map((s, i) => ({
                shard: i,
                primary: { host: "127.0.0.1", port: s.port },
                replicas: [],
                dbname: DB,
                user: "postgres",
                passwordRef: { kind: "file" as const, path: world.passwordFile },
              })),
              application: {
                user: APP,
                passwordRef: { kind: "file" as const, path: appPassword },
                verifierRef: { kind: "file" as const, path: appVerifier },
              },
              shardedTables: [
                { table: "orders", keyColumn: "id", keyType: "bigint" },
                { table: "accounts", keyColumn: "name", keyType: "text" },
              ],
            },
            { subject: DB, id: uniqueName("ready") },
          );
          for (const r of routers.filter((x) => x.alive)) {
            await waitFor(
              async () => {
                const res = await api(r.base, token, "GET", `/v1/databases/${DB}/shards`);
                return res.status === 200 && res.body.shards.length === count;
              },
              { what: `${count} shards of ${DB} at ${r.base}` },
            );
          }
        },
        async startRouter() {
          const pgPort = await freePort();
          const replica = await world.startReplica({ env: { DBPLANE_ROUTER_PG_PORT: String(pgPort) } });
          const router = {
            base: replica.base,
            pgPort,
            pid: replica.svc.process.pid ?? 0,
            alive: true,
            stop(signal?: NodeJS.Signals) {
              router.alive = false;
              return replica.stop(signal);
            },
          };
          routers.push(router);
          if (version > 0) await waitForMap(replica.base, token, DB);
          return router;
        },
        dispose: () => world.dispose(),
      };
      for (let i = 0; i < (options.routers ?? 2); i++) await self.startRouter();
      return self;
    },
  );
}

/** Rows of the shop database: `orders` (bigint key), `accounts` (text key), `countries` (unsharded, on every shard). */
export interface ShopRows {
  readonly orders: number;
  readonly accounts?: number;
  readonly countries?: number;
}

/**
 * The shop on shards 0 and 1 of a 3-shard world, as most reshard tests start: the tables through
 * the router's migrations (applied to shard 2 too once it joins), each shard loaded directly
 * with the rows it owns (shard 0 the hashes below 0), then shard 2 announced owning nothing —
 * unless `announceSpare` is false (a split must then have the provisioner add it).
 */
export async function setUpShop(
  w: ReshardWorld,
  rows: ShopRows,
  { announceSpare = true }: { announceSpare?: boolean } = {},
): Promise<void> {
  await w.announce(2);
  const migration = await w.call("POST", `/v1/databases/${DB}/migrations`, {
    id: "001-tables",
    statements: [
      "CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL)",
      "CREATE TABLE accounts (name text PRIMARY KEY, balance integer NOT NULL)",
      "CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL)",
    ],
  });
  if (migration.status !== 200 || !migration.body.complete) {
    throw new Error(`migration answered ${migration.status}: ${JSON.stringify(migration.body)}`);
  }
  for (const [shard, cmp] of [
    [0, "<"],
    [1, ">="],
  ] as const) {
    const pool = w.pools[shard]!;
    await pool.query(
      `INSERT INTO orders SELECT g, g % 1000 FROM generate_series(1, ${rows.orders}) g WHERE hashint8extended(g, 0) ${cmp} 0`,
    );
    await pool.query(
      `INSERT INTO accounts SELECT 'acct-' || g, g FROM generate_series(1, ${rows.accounts ?? 0}) g WHERE hashtextextended('acct-' || g, 0) ${cmp} 0`,
    );
    await pool.query(
      `INSERT INTO countries SELECT 'c' || g, 'country ' || g FROM generate_series(1, ${rows.countries ?? 0}) g`,
    );
  }
  if (announceSpare) await w.announce(3);
}

/** A response body, inspected loosely field by field (see JsonResponse). */
export type Body = JsonResponse["body"];

/**
 * Where the rows of `table` are, by the map in force: per shard the rows outside its ranges
 * (`stray`, should be none) and in all the rows the shards hold (`total`, counted on each shard
 * directly, so a row held twice counts twice).
 */
export async function rowPlacement(
  w: ReshardWorld,
  table = "orders",
  hash = "hashint8extended(id, 0)",
): Promise<{ version: number; stray: number; total: number }> {
  const map = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
  let stray = 0;
  let total = 0;
  for (const s of map.shards as { shard: number; ranges: { from: string; to: string }[] }[]) {
    const pool = w.pools[s.shard]!;
    stray += await strayRows(pool, table, hash, s.ranges);
    total += (await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
  }
  return { version: map.version, stray, total };
}

/** The rows of `table` counted through the router (its scatter answers one row per shard: summed). */
export async function routedCount(w: ReshardWorld, table = "orders"): Promise<number> {
  const res = await w.call("POST", `/v1/databases/${DB}/query`, {
    sql: `SELECT count(*)::int AS n FROM ${table}`,
  });
  if (res.status !== 200) throw new Error(`count answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.rows.reduce((sum: number, r: { n: number }) => sum + r.n, 0);
}

/**
 * Holds the initial copy into `table` on a split's target until released: a SHARE lock, so the
 * copy's COPY FROM waits and a read of the (empty) table does not. Waits for the table first —
 * a shard that just joined gets the database's migrations from the router a moment later.
 */
export async function holdCopyInto(pool: pg.Pool, table = "orders"): Promise<() => Promise<void>> {
  const client = await waitFor(
    async () => {
      const c = await pool.connect();
      try {
        await c.query("BEGIN");
        await c.query(`LOCK TABLE ${table} IN SHARE MODE`);
        return c;
      } catch {
        await c.query("ROLLBACK").catch(() => {});
        c.release();
        return undefined;
      }
    },
    { what: `${table} on the target`, timeoutMs: 90_000, intervalMs: 100 },
  );
  return async () => {
    await client.query("ROLLBACK");
    client.release();
  };
}
