import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectBus } from "@dbplane/bus";
import { databaseReady } from "@dbplane/contracts";
import { createLogger, signToken } from "@dbplane/service-kit";
import {
  type ChildService,
  createTestDatabase,
  createTestNats,
  createTestRedis,
  createTestSchema,
  freePort,
  startChildService,
  type TestDatabase,
  type TestNats,
  type TestRedis,
  type TestSchema,
  testServerUrls,
  uniqueName,
  waitFor,
} from "@dbplane/testkit";
import pg from "pg";

export const JWT_SECRET = "router-tests-secret-that-is-long-enough-0123456789";
const ENTRY = new URL("../src/main.ts", import.meta.url).pathname;

/** One shard for the router: a fresh test database on the local server. */
export interface TestShard {
  readonly db: TestDatabase;
  /** A pool straight to the shard, to check where rows landed. */
  readonly pool: pg.Pool;
  /** Port the router is told to use (the server's, or a proxy's). */
  port: number;
}

/** Everything a router test needs: NATS namespace, schema, Redis prefix, shards, a bus, a token. */
export interface RouterWorld {
  readonly nats: TestNats;
  readonly schema: TestSchema;
  readonly redis: TestRedis;
  readonly bus: Bus;
  readonly shards: TestShard[];
  readonly passwordFile: string;
  readonly token: string;
  readonly routers: ChildService[];
  /** Env for a router process of this world. */
  env(port: number, extra?: Record<string, string>): Record<string, string>;
  /** Starts a router process; returns its base URL. */
  startRouter(extra?: Record<string, string>): Promise<{ url: string; child: ChildService }>;
  /** Announces the database as the provisioner would. */
  announce(name: string, options?: AnnounceOptions): Promise<void>;
  cleanup(): Promise<void>;
}

/** What the provisioner would say: the first `count` shards, at these ports, with these replicas. */
export interface AnnounceOptions {
  readonly count?: number;
  readonly version?: number;
  readonly ports?: readonly (number | undefined)[];
  readonly replicas?: readonly { host: string; port: number }[][];
}

export async function createRouterWorld(shardCount: number): Promise<RouterWorld> {
  const nats = await createTestNats();
  const schema = await createTestSchema("router");
  const redis = await createTestRedis();
  const bus = await connectBus({
    servers: nats.url,
    name: "router-test",
    logger: createLogger({ name: "router-test", level: "silent" }),
    namespace: nats.namespace,
  });
  await bus.ensureTopology();
  const dir = await mkdtemp(join(tmpdir(), "router-test-"));
  const passwordFile = join(dir, "password");
  // The local server trusts local connections; the file proves the reference is followed.
  await writeFile(passwordFile, "not-a-real-password\n", { mode: 0o600 });
  await chmod(passwordFile, 0o600);
  const serverPort = Number(new URL(testServerUrls().postgres).port || 5432);
  const shards: TestShard[] = [];
  for (let i = 0; i < shardCount; i++) {
    const db = await createTestDatabase("shard");
    shards.push({ db, pool: new pg.Pool({ connectionString: db.url, max: 2 }), port: serverPort });
  }
  const token = await signToken(JWT_SECRET, { sub: "router-test" });
  const routers: ChildService[] = [];
  const world: RouterWorld = {
    nats,
    schema,
    redis,
    bus,
    shards,
    passwordFile,
    token,
    routers,
    env: (port, extra = {}) => ({
      DBPLANE_HTTP_HOST: "127.0.0.1",
      DBPLANE_HTTP_PORT: String(port),
      DBPLANE_LOG_LEVEL: process.env.DBPLANE_TEST_ECHO === "1" ? "info" : "warn",
      DBPLANE_JWT_SECRET: JWT_SECRET,
      DBPLANE_SHUTDOWN_DELAY_MS: "0",
      DBPLANE_NATS_URL: nats.url,
      DBPLANE_NATS_NAMESPACE: nats.namespace,
      DBPLANE_PG_URL: schema.url,
      DBPLANE_REDIS_URL: redis.url,
      DBPLANE_ROUTER_SCHEMA: schema.name,
      DBPLANE_ROUTER_REDIS_PREFIX: redis.prefix,
      DBPLANE_ROUTER_CONNECT_TIMEOUT_MS: "2000",
      DBPLANE_ROUTER_HEALTH_INTERVAL_MS: "200",
      ...extra,
    }),
    async startRouter(extra) {
      const port = await freePort();
      const child = await startChildService({
        entry: ENTRY,
        env: world.env(port, extra),
        readyUrl: `http://127.0.0.1:${port}/health/ready`,
        name: `router:${port}`,
      });
      routers.push(child);
      return { url: `http://127.0.0.1:${port}`, child };
    },
    async announce(name, { count, version, ports, replicas } = {}) {
      await bus.publish(
        databaseReady,
        {
          name,
          version: version ?? 1,
          postgresVersion: 15,
          shards: shards.slice(0, count ?? shards.length).map((s, i) => ({
            shard: i,
            primary: { host: "127.0.0.1", port: ports?.[i] ?? s.port },
            replicas: replicas?.[i] ?? [],
            dbname: s.db.name,
            user: "postgres",
            passwordRef: { kind: "file" as const, path: passwordFile },
          })),
        },
        { subject: name, id: uniqueName("ready") },
      );
    },
    async cleanup() {
      await Promise.all(routers.map((r) => r.dispose()));
      await bus.close();
      await Promise.all(shards.map((s) => s.pool.end()));
      await Promise.all(shards.map((s) => s.db.drop()));
      await Promise.all([
        nats.cleanup(),
        schema.drop(),
        redis.cleanup(),
        rm(dir, { recursive: true, force: true }),
      ]);
    },
  };
  return world;
}

/** A parsed JSON response body; the tests' assertions are its type check. */
// biome-ignore lint/suspicious/noExplicitAny: response shapes are asserted field by field in the tests
type Json = any;

/** JSON over HTTP with the test's bearer token. */
export async function api(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Json; contentType: string | null }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { "content-type": "application/json" }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? JSON.parse(text) : undefined,
    contentType: res.headers.get("content-type"),
  };
}

/** Waits until the router at `base` routes `database` by at least `version`. */
export async function waitForMap(
  base: string,
  token: string,
  database: string,
  version = 1,
  timeoutMs = 15_000,
) {
  return waitFor(
    async () => {
      const res = await api(base, token, "GET", `/v1/databases/${database}/shards`);
      return res.status === 200 && res.body.version >= version ? res.body : undefined;
    },
    { what: `${database} v${version} at ${base}`, timeoutMs, intervalMs: 20 },
  );
}
