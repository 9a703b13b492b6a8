// The split bench's world: private PostgreSQL servers with wal_level=logical (the shared server's
// level is replica, and a split replicates from source to target), one database `shop` on each,
// router replicas as child processes in a NATS namespace of their own, and a bus to announce the
// database on as the provisioner would.
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectBus } from "@dbplane/bus";
import { databaseReady } from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import {
  createPostgresServer,
  createTestRedis,
  createTestSchema,
  httpClient,
  type JsonResponse,
  type PostgresServer,
  type ServiceReplica,
  type ServiceWorld,
  serviceWorld,
  uniqueName,
  waitFor,
} from "@dbplane/testkit";
import pg from "pg";

export const DB = "shop";
const SECRET = "bench-reshard-secret-that-is-long-enough-0123456789";

export interface SplitWorld {
  readonly world: ServiceWorld;
  readonly bus: Bus;
  readonly servers: readonly PostgresServer[];
  /** A small pool straight to each shard's database, by shard index. */
  readonly pools: readonly pg.Pool[];
  /** `postgres://…/shop` of each shard, for psql. */
  readonly urls: readonly string[];
  readonly routers: readonly ServiceReplica[];
  readonly token: string;
  /** JSON over HTTP to the first router replica. */
  call(method: string, path: string, body?: unknown): Promise<JsonResponse>;
  /** Announces the first `count` shards (a shard added later owns no range until a split gives it one). */
  announce(count: number): Promise<void>;
  dispose(): Promise<void>;
}

export interface SplitWorldOptions {
  readonly shards: number;
  readonly routers: number;
  /** Extra environment of every router replica. */
  readonly env: Record<string, string>;
}

export async function createSplitWorld(options: SplitWorldOptions): Promise<SplitWorld> {
  const schema = await createTestSchema("router_bench");
  const redis = await createTestRedis();
  // The router reads password files only inside its data directory: the bench's lives there.
  const dir = await mkdtemp(join(tmpdir(), "bench-reshard-"));
  const world = await serviceWorld({
    entry: join(import.meta.dirname, "../../services/router/src/main.ts"),
    name: "router",
    jwtSecret: SECRET,
    readyTimeoutMs: 60_000,
    env: {
      // info: the reshard's and the fences' steps, read back for the timeline (requests are not logged).
      DBPLANE_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
      DBPLANE_PG_URL: schema.url,
      DBPLANE_REDIS_URL: redis.url,
      DBPLANE_ROUTER_SCHEMA: schema.name,
      DBPLANE_ROUTER_REDIS_PREFIX: redis.prefix,
      DBPLANE_ROUTER_PG_PORT: "0",
      // Two replicas × two shard servers × this stays well under the private servers' 40.
      DBPLANE_ROUTER_SHARD_POOL_SIZE: "8",
      DBPLANE_DATA_DIR: dir,
      ...options.env,
    },
  });
  world.defer(() => Promise.all([schema.drop(), redis.cleanup()]));
  world.defer(() => rm(dir, { recursive: true, force: true }));
  const passwordFile = join(dir, "password");
  // The private servers trust local connections; the router still follows the reference.
  await writeFile(passwordFile, "unused-with-trust-auth\n", { mode: 0o600 });
  await chmod(passwordFile, 0o600);

  const servers: PostgresServer[] = [];
  const pools: pg.Pool[] = [];
  world.defer(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await Promise.all(servers.map((s) => s.stop()));
  });
  await Promise.all(
    Array.from({ length: options.shards }, async (_, i) => {
      const server = await createPostgresServer();
      servers[i] = server;
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${DB}`);
      await admin.end();
      pools[i] = new pg.Pool({ connectionString: shardUrl(server), max: 3 });
    }),
  );

  const bus = await connectBus({
    servers: world.nats.url,
    // Plays the provisioner: the router takes database.ready from it only.
    name: "provisioner",
    logger: createLogger({ name: "bench-reshard", level: "silent" }),
    namespace: world.nats.namespace,
  });
  world.defer(() => bus.close());
  await bus.ensureTopology();
  const routers = await world.startReplicas(options.routers);
  const token = world.token();

  return {
    world,
    bus,
    servers,
    pools,
    urls: servers.map(shardUrl),
    routers,
    token,
    call: (method, path, body) => httpClient(routers[0]!.base, token).call(method, path, body),
    async announce(count) {
      await bus.publish(
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
            passwordRef: { kind: "file" as const, path: passwordFile },
          })),
          shardedTables: [
            { table: "orders", keyColumn: "id", keyType: "bigint" },
            { table: "accounts", keyColumn: "name", keyType: "text" },
          ],
        },
        { subject: DB, id: uniqueName("ready") },
      );
      for (const r of routers) {
        await waitFor(
          async () => {
            const res = await httpClient(r.base, token).call("GET", `/v1/databases/${DB}/shards`);
            return res.status === 200 && res.body.shards.length === count;
          },
          { what: `${count} shards of ${DB} at ${r.base}`, timeoutMs: 30_000 },
        );
      }
    },
    dispose: () => world.dispose(),
  };
}

function shardUrl(server: PostgresServer): string {
  return server.url.replace(/\/postgres$/, `/${DB}`);
}
