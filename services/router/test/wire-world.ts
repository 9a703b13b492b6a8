import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { hashShardKey, RangeLookup, rangesFromText } from "@dbplane/sharding";
import { freePort, makeSelfSignedCert } from "@dbplane/testkit";
import pg from "pg";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

/** A router with its wire endpoint, a database announced with an application role. */
export interface WireWorld {
  readonly world: RouterWorld;
  /** The router replica's HTTP base URL. */
  readonly base: string;
  /** A counter or gauge of the replica's /metrics, summed over label sets containing `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  readonly database: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The shard (index) owning a bigint key, per the router's published map. */
  shardOf(key: bigint | number): number;
  /** A node-postgres client connected through the router. */
  client(options?: Partial<pg.ClientConfig>): Promise<pg.Client>;
  /** Runs psql through the router; resolves with stdout (rejects with stderr on failure). */
  psql(args: readonly string[], input?: string, env?: Record<string, string>): Promise<string>;
  /** The environment for libpq tools (pgbench, psql) to reach the router. */
  readonly libpqEnv: NodeJS.ProcessEnv;
  dispose(): Promise<void>;
}

export type ShardedTables = Parameters<RouterWorld["announce"]>[1] extends infer O
  ? O extends { shardedTables?: infer T }
    ? T
    : never
  : never;

/** Starts the world: `shardCount` shards, one router replica, `database` announced and routed. */
export async function startWireWorld(
  shardCount: number,
  database: string,
  shardedTables: NonNullable<ShardedTables>,
  env: Record<string, string> = {},
  { tls = false }: { tls?: boolean } = {},
): Promise<WireWorld> {
  const world = await createRouterWorld(shardCount, { application: true });
  try {
    if (tls) Object.assign(env, await selfSignedPair(world));
    const port = await freePort();
    const replica = await world.startReplica({ env: { DBPLANE_ROUTER_PG_PORT: String(port), ...env } });
    await world.announce(database, { shardedTables });
    const base = replica.base;
    const map = await waitForMap(base, world.token(), database);
    const lookup = new RangeLookup(
      rangesFromText(
        map.shards.flatMap((s: { shard: number; ranges: { from: string; to: string }[] }) =>
          s.ranges.map((r) => ({ shard: s.shard, from: r.from, to: r.to })),
        ),
      ),
    );
    const { user, password } = world.application!;
    const libpqEnv = {
      ...process.env,
      PGHOST: "127.0.0.1",
      PGPORT: String(port),
      PGUSER: user,
      PGPASSWORD: password,
      PGDATABASE: database,
      PGSSLMODE: "disable",
      PGCONNECT_TIMEOUT: "10",
    };
    return {
      world,
      base,
      metric: (name, labels) => replica.metric(name, labels),
      database,
      port,
      user,
      password,
      libpqEnv,
      shardOf: (key) => lookup.shardFor(hashShardKey("bigint", String(key))),
      async client(options = {}) {
        const client = new pg.Client({
          host: "127.0.0.1",
          port,
          user,
          password,
          database,
          ...options,
        });
        await client.connect();
        return client;
      },
      async psql(args, input, env = {}) {
        const run = promisify(execFile);
        const child = run("psql", ["-X", "-v", "ON_ERROR_STOP=1", ...args], {
          env: { ...libpqEnv, ...env },
          timeout: 60_000,
          maxBuffer: 256 * 1024 * 1024,
        });
        if (input !== undefined) {
          child.child.stdin?.end(input);
        }
        const { stdout } = await child;
        return stdout;
      },
      dispose: () => world.dispose(),
    };
  } catch (error) {
    await world.dispose();
    throw error;
  }
}

/** A throw-away certificate and key (CN=localhost) as the router's TLS env. */
async function selfSignedPair(world: RouterWorld): Promise<Record<string, string>> {
  const pair = await makeSelfSignedCert();
  world.defer(() => pair.remove());
  return { DBPLANE_ROUTER_TLS_CERT: pair.certPath, DBPLANE_ROUTER_TLS_KEY: pair.keyPath };
}

/** The first keys (from `start` up) owned by each of the shards, one per shard. */
export function keysPerShard(wire: WireWorld, shards: number, start = 1): bigint[] {
  const found = new Map<number, bigint>();
  for (let key = BigInt(start); found.size < shards; key++) {
    const shard = wire.shardOf(key);
    if (!found.has(shard)) found.set(shard, key);
  }
  return [...found.entries()].sort(([a], [b]) => a - b).map(([, key]) => key);
}

export { api };
