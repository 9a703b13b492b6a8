import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { disposeOnFailure } from "./dispose-on-failure.ts";
import type { TestNats } from "./nats.ts";
import { createTestSchema } from "./postgres.ts";
import { createTestRedis } from "./redis.ts";
import { type ServiceReplica, type ServiceWorld, serviceWorld } from "./service-world.ts";

const SERVICES = join(import.meta.dirname, "../../../services");

export type FleetService = "provisioner" | "router" | "scheduler" | "collector" | "projection-coordinator";

export interface FleetWorldOptions {
  /** Names the world's schemas, data directory and target subject (e.g. `cli`, `console`). */
  readonly label: string;
  /** One key for every service, as in a real installation: one token works everywhere. */
  readonly jwtSecret: string;
  /** Starts a collector too (off by default). */
  readonly collector?: boolean;
  /** Added to every service's environment. */
  readonly env?: Record<string, string>;
  /** Added to one service's environment, over `env` and the world's own settings. */
  readonly serviceEnv?: Partial<Record<FleetService, Record<string, string>>>;
  /** The coordinator is given the other services' addresses (the console's fleet views). */
  readonly linkCoordinator?: boolean;
}

/**
 * The provisioner (local driver: real clusters), the router, the scheduler, optionally the
 * collector, and the projection-coordinator on one bus, one replica each, with the schemas, Redis
 * prefix and data directory they need, and a stream capturing `<namespace>.target.>` for jobs.
 */
export interface FleetWorld {
  readonly provisioner: ServiceReplica;
  readonly router: ServiceReplica;
  readonly scheduler: ServiceReplica;
  /** Set when the world was asked for one. */
  readonly collector: ServiceReplica | undefined;
  readonly coordinator: ServiceReplica;
  /** A subject the world's target stream captures, for scheduler jobs. */
  readonly targetSubject: string;
  readonly namespace: string;
  /** The world's NATS connection and namespace. */
  readonly nats: TestNats;
  /** The provisioner's data directory (the router and collector read password files in it). */
  readonly dataDir: string;
  /** A token signed with the services' key: scope admin unless given; `expiresIn` seconds. */
  token(options?: { scopes?: string[]; expiresIn?: number }): string;
  dispose(): Promise<void>;
}

export async function createFleetWorld(options: FleetWorldOptions): Promise<FleetWorld> {
  const { label } = options;
  const worlds: ServiceWorld[] = [];
  const [provSchema, routerSchema, schedSchema, projSchema, redis] = await Promise.all([
    createTestSchema(`${label}prov`),
    createTestSchema(`${label}router`),
    createTestSchema(`${label}sched`),
    createTestSchema(`${label}proj`),
    createTestRedis(),
  ]);
  // Under /tmp and traversable: the servers run as the `postgres` user when tests run as root.
  const dataDir = await mkdtemp(join(tmpdir(), `dbplane-${label}-`));
  await chmod(dataDir, 0o711);
  const dispose = async () => {
    for (const world of worlds.reverse()) await world.dispose();
    await Promise.all([
      provSchema.drop(),
      routerSchema.drop(),
      schedSchema.drop(),
      projSchema.drop(),
      redis.cleanup(),
    ]);
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  };
  const start = async (name: FleetService, env: Record<string, string>) => {
    const world = await serviceWorld({
      entry: join(SERVICES, name, "src/main.ts"),
      name,
      jwtSecret: options.jwtSecret,
      env: {
        DBPLANE_LOG_LEVEL: "warn",
        ...options.env,
        ...(worlds[0] && { DBPLANE_NATS_NAMESPACE: worlds[0].nats.namespace }),
        ...env,
        ...options.serviceEnv?.[name],
      },
    });
    worlds.push(world);
    return world;
  };
  // A replica not ready in time (under load) stops what was started before it.
  return disposeOnFailure(dispose, async () => {
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
      DBPLANE_ROUTER_RESHARD_POLL_MS: "200",
      DBPLANE_ROUTER_PG_PORT: "0",
      // The router reads password files only inside the provisioner's data directory.
      DBPLANE_DATA_DIR: dataDir,
    });
    const schedulers = await start("scheduler", {
      DBPLANE_PG_URL: schedSchema.url,
      DBPLANE_SCHEDULER_SCHEMA: schedSchema.name,
    });
    const collectors = options.collector
      ? await start("collector", {
          DBPLANE_REDIS_URL: redis.url,
          DBPLANE_COLLECTOR_REDIS_PREFIX: `${redis.prefix}collector:`,
          DBPLANE_COLLECTOR_INTERVAL_MS: "1000",
          DBPLANE_DATA_DIR: dataDir,
        })
      : undefined;
    // A user's stream for the jobs' messages (deleted with the namespace: its name has the prefix).
    await (await jetstreamManager(provisioners.nats.nc)).streams.add({
      name: `${namespace.toUpperCase()}_TARGET`,
      subjects: [`${namespace}.target.>`],
    });
    const [provisioner, router, scheduler, collector] = await Promise.all([
      provisioners.startReplica(),
      routers.startReplica(),
      schedulers.startReplica(),
      collectors?.startReplica(),
    ]);
    const coordinators = await start("projection-coordinator", {
      DBPLANE_PG_URL: projSchema.url,
      DBPLANE_PROJECTION_SCHEMA: projSchema.name,
      DBPLANE_PROJECTION_HEARTBEAT_MS: "200",
      ...(options.linkCoordinator && {
        DBPLANE_PROVISIONER_URL: provisioner.base,
        DBPLANE_ROUTER_URL: router.base,
        DBPLANE_SCHEDULER_URL: scheduler.base,
        ...(collector && { DBPLANE_COLLECTOR_URL: collector.base }),
      }),
    });
    const coordinator = await coordinators.startReplica();
    return {
      provisioner,
      router,
      scheduler,
      collector,
      coordinator,
      namespace,
      nats: provisioners.nats,
      dataDir,
      targetSubject: `${namespace}.target.${label}`,
      token: ({ scopes = ["admin"], expiresIn } = {}) =>
        provisioners.token({ scopes, ...(expiresIn !== undefined && { expiresIn }) }),
      dispose,
    };
  });
}
