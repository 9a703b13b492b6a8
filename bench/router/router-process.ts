// The router as the bench runs it: a child process with its own NATS namespace, schema and Redis
// prefix. BENCH_ROUTER_BASE_ENTRY starts a second one from another checkout (the code before a
// change), whose wire targets are measured in the same run as "base …": a change's effect side by
// side, not across runs on a machine whose load moves.

import { type Bus, connectBus } from "@dbplane/bus";
import {
  type ChildService,
  createTestNats,
  createTestRedis,
  createTestSchema,
  freePort,
  startChildService,
} from "@dbplane/testkit";
import { pino } from "pino";

export interface RouterWorld {
  readonly nats: { readonly url: string; readonly namespace: string };
  readonly schema: { readonly url: string; readonly name: string };
  readonly redis: { readonly url: string; readonly prefix: string };
}

/** The router's environment for the bench: HTTP on `port`, the wire endpoint on `wirePort`. */
export function routerEnv(
  o: RouterWorld & { port: number; wirePort: number; dataDir: string; poolSize: number; jwtSecret: string },
): Record<string, string> {
  return {
    DBPLANE_HTTP_HOST: "127.0.0.1",
    DBPLANE_HTTP_PORT: String(o.port),
    DBPLANE_LOG_LEVEL: "warn",
    DBPLANE_JWT_SECRET: o.jwtSecret,
    DBPLANE_SHUTDOWN_DELAY_MS: "0",
    DBPLANE_NATS_URL: o.nats.url,
    DBPLANE_NATS_NAMESPACE: o.nats.namespace,
    DBPLANE_PG_URL: o.schema.url,
    DBPLANE_REDIS_URL: o.redis.url,
    DBPLANE_ROUTER_SCHEMA: o.schema.name,
    DBPLANE_ROUTER_REDIS_PREFIX: o.redis.prefix,
    DBPLANE_ROUTER_SHARD_POOL_SIZE: String(o.poolSize),
    // Password files are read only inside the data directory.
    DBPLANE_DATA_DIR: o.dataDir,
    DBPLANE_ROUTER_PG_PORT: String(o.wirePort),
    DBPLANE_ROUTER_WIRE_POOL_SIZE: String(o.poolSize),
    ...(process.env.BENCH_ROUTER_NODE_OPTIONS && { NODE_OPTIONS: process.env.BENCH_ROUTER_NODE_OPTIONS }),
  };
}

export interface BenchRouter {
  readonly service: ChildService;
  /** Plays the provisioner towards it (its own namespace). */
  readonly bus: Bus;
  /** Its HTTP port. */
  readonly port: number;
  readonly wirePort: number;
  stop(): Promise<void>;
}

/**
 * A router from `entry` in a world of its own (NATS namespace, schema, Redis prefix), and a bus that
 * plays the provisioner towards it: the bench's own router, or another checkout's (BENCH_ROUTER_BASE_ENTRY).
 */
export async function startBenchRouter(
  entry: string,
  o: { dataDir: string; poolSize: number; jwtSecret: string },
): Promise<BenchRouter> {
  const nats = await createTestNats();
  const schema = await createTestSchema("router_bench");
  const redis = await createTestRedis();
  const port = await freePort();
  const wirePort = await freePort();
  const service = await startChildService({
    entry,
    env: routerEnv({ nats, schema, redis, port, wirePort, ...o }),
    readyUrl: `http://127.0.0.1:${port}/health/ready`,
  });
  const bus = await connectBus({
    servers: nats.url,
    name: "provisioner",
    logger: pino({ level: "silent" }),
    namespace: nats.namespace,
  });
  await bus.ensureTopology();
  return {
    service,
    bus,
    port,
    wirePort,
    async stop() {
      service.kill("SIGTERM");
      await service.exited;
      await bus.close();
      await Promise.all([nats.cleanup(), schema.drop(), redis.cleanup()]);
    },
  };
}
