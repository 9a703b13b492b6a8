import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createTestRedis,
  createTestSchema,
  type ServiceReplica,
  type ServiceWorld,
  serviceWorld,
  type TestNats,
} from "@dbplane/testkit";
import { jetstreamManager } from "@nats-io/jetstream";

const SERVICES = join(import.meta.dirname, "../..");
/** One key for every service, as in a real installation: one token works everywhere. */
const JWT_SECRET = "console-tests-secret-that-is-long-enough-0123456789";

/**
 * What the console shows: the provisioner (local driver: real clusters), the router, the
 * scheduler, the collector and the coordinator (fleet and audit) on one bus, every one with
 * anonymous reads off, so the console must present a token for everything.
 */
export interface ConsoleWorld {
  readonly provisioner: ServiceReplica;
  readonly router: ServiceReplica;
  readonly scheduler: ServiceReplica;
  readonly collector: ServiceReplica;
  readonly coordinator: ServiceReplica;
  /** A subject the world's target stream captures, for scheduler jobs. */
  readonly targetSubject: string;
  readonly namespace: string;
  /** The world's NATS connection and namespace. */
  readonly nats: TestNats;
  /** A token signed with the services' key: scope admin unless given; `expiresIn` seconds. */
  token(options?: { scopes?: string[]; expiresIn?: number }): string;
  dispose(): Promise<void>;
}

export async function createConsoleWorld(): Promise<ConsoleWorld> {
  const worlds: ServiceWorld[] = [];
  const [provSchema, routerSchema, schedSchema, projSchema, redis] = await Promise.all([
    createTestSchema("conprov"),
    createTestSchema("conrouter"),
    createTestSchema("consched"),
    createTestSchema("conproj"),
    createTestRedis(),
  ]);
  // Under /tmp and traversable: the servers run as the `postgres` user when tests run as root.
  const dataDir = await mkdtemp(join(tmpdir(), "dbplane-console-"));
  await chmod(dataDir, 0o711);
  const common = { DBPLANE_LOG_LEVEL: "warn", DBPLANE_ANONYMOUS_READ: "false" };
  const start = async (name: string, env: Record<string, string>) => {
    const world = await serviceWorld({
      entry: join(SERVICES, name, "src/main.ts"),
      name,
      jwtSecret: JWT_SECRET,
      env: { ...common, ...(worlds[0] && { DBPLANE_NATS_NAMESPACE: worlds[0].nats.namespace }), ...env },
    });
    worlds.push(world);
    return world;
  };
  try {
    const provisioners = await start("provisioner", {
      DBPLANE_PG_URL: provSchema.url,
      DBPLANE_PROVISIONER_SCHEMA: provSchema.name,
      DBPLANE_DATA_DIR: dataDir,
      DBPLANE_RECONCILE_INTERVAL_MS: "200",
    });
    const namespace = provisioners.nats.namespace;
    const routers = await start("router", {
      DBPLANE_PG_URL: routerSchema.url,
      DBPLANE_REDIS_URL: redis.url,
      DBPLANE_ROUTER_SCHEMA: routerSchema.name,
      DBPLANE_ROUTER_REDIS_PREFIX: `${redis.prefix}router:`,
      DBPLANE_ROUTER_HEALTH_INTERVAL_MS: "200",
      DBPLANE_ROUTER_PG_PORT: "0",
      DBPLANE_DATA_DIR: dataDir,
    });
    const schedulers = await start("scheduler", {
      DBPLANE_PG_URL: schedSchema.url,
      DBPLANE_SCHEDULER_SCHEMA: schedSchema.name,
    });
    const collectors = await start("collector", {
      DBPLANE_REDIS_URL: redis.url,
      DBPLANE_COLLECTOR_REDIS_PREFIX: `${redis.prefix}collector:`,
      DBPLANE_COLLECTOR_INTERVAL_MS: "1000",
      DBPLANE_DATA_DIR: dataDir,
    });
    // A user's stream for the jobs' messages (deleted with the namespace: its name has the prefix).
    await (await jetstreamManager(provisioners.nats.nc)).streams.add({
      name: `${namespace.toUpperCase()}_TARGET`,
      subjects: [`${namespace}.target.>`],
    });
    const [provisioner, router, scheduler, collector] = await Promise.all([
      provisioners.startReplica(),
      routers.startReplica(),
      schedulers.startReplica(),
      collectors.startReplica(),
    ]);
    const coordinators = await start("projection-coordinator", {
      DBPLANE_PG_URL: projSchema.url,
      DBPLANE_PROJECTION_SCHEMA: projSchema.name,
      DBPLANE_PROJECTION_HEARTBEAT_MS: "200",
      DBPLANE_PROJECTION_MAX_ATTEMPTS: "1",
      DBPLANE_PG_POOL_SIZE: "4",
      DBPLANE_PROVISIONER_URL: provisioner!.base,
      DBPLANE_ROUTER_URL: router!.base,
      DBPLANE_SCHEDULER_URL: scheduler!.base,
      DBPLANE_COLLECTOR_URL: collector!.base,
    });
    const coordinator = await coordinators.startReplica();
    return {
      provisioner: provisioner!,
      router: router!,
      scheduler: scheduler!,
      collector: collector!,
      coordinator,
      namespace,
      nats: provisioners.nats,
      targetSubject: `${namespace}.target.console`,
      token: ({ scopes = ["admin"], expiresIn } = {}) =>
        provisioners.token({ scopes, ...(expiresIn !== undefined && { expiresIn }) }),
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }

  async function dispose() {
    for (const world of worlds.reverse()) await world.dispose();
    await Promise.all([
      provSchema.drop(),
      routerSchema.drop(),
      schedSchema.drop(),
      projSchema.drop(),
      redis.cleanup(),
      rm(dataDir, { recursive: true, force: true }),
    ]);
  }
}
