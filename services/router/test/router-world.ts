import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectBus } from "@dbplane/bus";
import { databaseReady, type MessageInput } from "@dbplane/contracts";
import { createScramVerifier } from "@dbplane/pgwire";
import { createLogger } from "@dbplane/service-kit";
import {
  createTestDatabase,
  createTestRedis,
  createTestSchema,
  httpClient,
  type ServiceWorld,
  serviceWorld,
  type TestDatabase,
  type TestRedis,
  type TestSchema,
  testServerUrls,
  uniqueName,
  waitFor,
} from "@dbplane/testkit";
import pg from "pg";

/** One shard for the router: a fresh test database on the local server. */
export interface TestShard {
  readonly db: TestDatabase;
  /** A pool straight to the shard, to check where rows landed. */
  readonly pool: pg.Pool;
  /** Port the router is told to use (the server's, or a proxy's). */
  port: number;
}

/** A router's world: its schema, Redis prefix, shards (test databases), and a bus to announce them on. */
export interface RouterWorld extends ServiceWorld {
  readonly schema: TestSchema;
  readonly redis: TestRedis;
  readonly bus: Bus;
  readonly shards: TestShard[];
  readonly passwordFile: string;
  /** The application role (with `application: true`): owner of every shard database. */
  readonly application: { readonly user: string; readonly password: string } | undefined;
  /** Announces the database as the provisioner would. */
  announce(name: string, options?: AnnounceOptions): Promise<void>;
}

/** What the provisioner would say: the first `count` shards, at these ports, with these replicas. */
type DatabaseReadyInput = MessageInput<typeof databaseReady>;

export interface AnnounceOptions {
  readonly count?: number;
  readonly version?: number;
  readonly ports?: readonly (number | undefined)[];
  readonly replicas?: readonly { host: string; port: number }[][];
  /** The spec's sharded tables, as `database.ready` lists them. */
  readonly shardedTables?: DatabaseReadyInput["shardedTables"];
  /**
   * The application role the provisioner made (and the router then connects as); default: the
   * world's own role when it was created with `application: true`.
   */
  readonly application?: DatabaseReadyInput["application"];
}

/** What the world sets up besides the shards. */
export interface RouterWorldOptions {
  /**
   * Create an application role (LOGIN, owner of every shard database) with a random password and
   * its SCRAM verifier in files, and announce it with the database, as the provisioner does.
   */
  readonly application?: boolean;
  /** Extra environment of the router replicas. */
  readonly env?: Record<string, string>;
  /** A test's private nats-server (one it stops and starts) instead of the shared one. */
  readonly natsUrl?: string;
}

export async function createRouterWorld(
  shardCount: number,
  options: RouterWorldOptions = {},
): Promise<RouterWorld> {
  const schema = await createTestSchema("router");
  const redis = await createTestRedis();
  // The router reads password files only inside its data directory: the world's files live there.
  const dir = await mkdtemp(join(tmpdir(), "router-test-"));
  const world = await serviceWorld({
    entry: join(import.meta.dirname, "../src/main.ts"),
    name: "router",
    jwtSecret: "router-tests-secret-that-is-long-enough-0123456789",
    ...(options.natsUrl !== undefined && { natsUrl: options.natsUrl }),
    env: {
      DBPLANE_LOG_LEVEL: process.env.DBPLANE_TEST_ECHO === "1" ? "info" : "warn",
      DBPLANE_PG_URL: schema.url,
      DBPLANE_REDIS_URL: redis.url,
      DBPLANE_ROUTER_SCHEMA: schema.name,
      DBPLANE_ROUTER_REDIS_PREFIX: redis.prefix,
      DBPLANE_ROUTER_CONNECT_TIMEOUT_MS: "2000",
      DBPLANE_ROUTER_HEALTH_INTERVAL_MS: "200",
      DBPLANE_ROUTER_PG_PORT: "0",
      DBPLANE_DATA_DIR: dir,
      ...options.env,
    },
  });
  world.defer(() => Promise.all([schema.drop(), redis.cleanup()]));
  world.defer(() => rm(dir, { recursive: true, force: true }));
  const passwordFile = join(dir, "password");
  // The local server trusts local connections; the file proves the reference is followed.
  await writeFile(passwordFile, "not-a-real-password\n", { mode: 0o600 });
  await chmod(passwordFile, 0o600);
  const serverPort = Number(new URL(testServerUrls().postgres).port || 5432);
  const application = options.application ? await createApplicationRole(world, dir) : undefined;
  const shards: TestShard[] = [];
  world.defer(async () => {
    await Promise.all(shards.map((s) => s.pool.end()));
    await Promise.all(shards.map((s) => s.db.drop()));
  });
  for (let i = 0; i < shardCount; i++) {
    const db = await createTestDatabase("shard");
    if (application) await application.own(db.name);
    shards.push({ db, pool: new pg.Pool({ connectionString: db.url, max: 2 }), port: serverPort });
  }
  // The test bus plays the provisioner, whose database.ready/deleted the router takes from it only.
  const bus = await connectBus({
    servers: world.nats.url,
    name: "provisioner",
    logger: createLogger({ name: "router-test", level: "silent" }),
    namespace: world.nats.namespace,
  });
  world.defer(() => bus.close());
  await bus.ensureTopology();
  return {
    ...world,
    schema,
    redis,
    bus,
    shards,
    passwordFile,
    application: application && { user: application.user, password: application.password },
    async announce(name, { count, version, ports, replicas, shardedTables, application: announced } = {}) {
      const role = announced ?? application?.spec;
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
          ...(shardedTables && { shardedTables }),
          ...(role && { application: role }),
        },
        { subject: name, id: uniqueName("ready") },
      );
    },
  };
}

/**
 * A LOGIN role owning the shard databases, its password and verifier in 0600 files. The local
 * server trusts local connections, so the password only matters to the router's own SCRAM check.
 * Dropped after the shard databases (cleanups run last first).
 */
async function createApplicationRole(world: ServiceWorld, dir: string) {
  const user = uniqueName("app");
  const password = randomBytes(12).toString("hex");
  const admin = new pg.Client({ connectionString: testServerUrls().postgres });
  await admin.connect();
  await admin.query(`CREATE ROLE "${user}" LOGIN`);
  world.defer(async () => {
    const client = new pg.Client({ connectionString: testServerUrls().postgres });
    await client.connect();
    await client.query(`DROP ROLE IF EXISTS "${user}"`);
    await client.end();
  });
  await admin.end();
  const passwordPath = join(dir, "app-password");
  const verifierPath = join(dir, "app-verifier");
  await writeFile(passwordPath, `${password}\n`, { mode: 0o600 });
  await writeFile(verifierPath, `${createScramVerifier(password)}\n`, { mode: 0o600 });
  return {
    user,
    password,
    spec: {
      user,
      passwordRef: { kind: "file" as const, path: passwordPath },
      verifierRef: { kind: "file" as const, path: verifierPath },
    },
    async own(database: string) {
      const client = new pg.Client({ connectionString: testServerUrls().postgres });
      await client.connect();
      await client.query(`ALTER DATABASE "${database}" OWNER TO "${user}"`);
      await client.end();
    },
  };
}

/** JSON over HTTP with the test's bearer token. */
export const api = (base: string, token: string, method: string, path: string, body?: unknown) =>
  httpClient(base, token).call(method, path, body);

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
