import { type ChildProcessByStdio, spawn } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import {
  createTestRedis,
  createTestSchema,
  disposeOnFailure,
  type ServiceReplica,
  type ServiceWorld,
  serviceWorld,
} from "@dbplane/testkit";
import { jetstreamManager } from "@nats-io/jetstream";

const SERVICES = join(import.meta.dirname, "../../../services");
const LAUNCHER = join(import.meta.dirname, "../../../scripts/dbplane");
/** One key for all three services, as in a real installation: one token works everywhere. */
export const JWT_SECRET = "cli-tests-secret-that-is-long-enough-0123456789";

/** What one run of the `dbplane` executable did. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A `dbplane` still running (events tail): what it wrote so far, and how to stop it. */
export interface RunningCli {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  stdout(): string;
  stderr(): string;
  /** Resolves when it exits. */
  readonly exited: Promise<CliRun>;
}

/**
 * The provisioner (local driver: real clusters), the router, the scheduler and the
 * projection-coordinator (its audit read model, for `events tail`) on one bus.
 */
export interface CliWorld {
  readonly provisioner: ServiceReplica;
  readonly router: ServiceReplica;
  readonly scheduler: ServiceReplica;
  readonly coordinator: ServiceReplica;
  /** A subject the world's target stream captures, for scheduler jobs. */
  readonly targetSubject: string;
  /** A token signed with the services' key (scope admin unless given). */
  token(scopes?: string[]): string;
  /** Runs `./scripts/dbplane …` as a user would, with its own HOME and XDG_CONFIG_HOME. */
  cli(args: readonly string[], env?: Record<string, string>): Promise<CliRun>;
  /** Starts `./scripts/dbplane …` and returns at once (killed by dispose if still running). */
  spawnCli(args: readonly string[]): RunningCli;
  readonly configHome: string;
  dispose(): Promise<void>;
}

export async function createCliWorld(): Promise<CliWorld> {
  const worlds: ServiceWorld[] = [];
  const [provSchema, routerSchema, schedSchema, projSchema, redis] = await Promise.all([
    createTestSchema("cliprov"),
    createTestSchema("clirouter"),
    createTestSchema("clisched"),
    createTestSchema("cliproj"),
    createTestRedis(),
  ]);
  // Under /tmp and traversable: the servers run as the `postgres` user when tests run as root.
  const dataDir = await mkdtemp(join(tmpdir(), "dbplane-cli-"));
  await chmod(dataDir, 0o711);
  const home = await mkdtemp(join(tmpdir(), "dbplane-cli-home-"));
  const configHome = join(home, "config");
  const running = new Set<ChildProcessByStdio<null, Readable, Readable>>();
  const dispose = async () => {
    for (const child of running) child.kill("SIGTERM");
    for (const world of worlds.reverse()) await world.dispose();
    await Promise.all([
      provSchema.drop(),
      routerSchema.drop(),
      schedSchema.drop(),
      projSchema.drop(),
      redis.cleanup(),
    ]);
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    await rm(home, { recursive: true, force: true });
  };
  // A replica not ready in time (under load) stops what was started before it.
  return disposeOnFailure(dispose, async () => {
    const provisioners = await serviceWorld({
      entry: join(SERVICES, "provisioner/src/main.ts"),
      name: "provisioner",
      jwtSecret: JWT_SECRET,
      env: {
        DBPLANE_PG_URL: provSchema.url,
        DBPLANE_PROVISIONER_SCHEMA: provSchema.name,
        DBPLANE_DATA_DIR: dataDir,
        DBPLANE_RECONCILE_INTERVAL_MS: "200",
        DBPLANE_LOG_LEVEL: "warn",
      },
    });
    worlds.push(provisioners);
    const namespace = provisioners.nats.namespace;
    const routers = await serviceWorld({
      entry: join(SERVICES, "router/src/main.ts"),
      name: "router",
      jwtSecret: JWT_SECRET,
      env: {
        DBPLANE_LOG_LEVEL: "warn",
        DBPLANE_PG_URL: routerSchema.url,
        DBPLANE_REDIS_URL: redis.url,
        DBPLANE_ROUTER_SCHEMA: routerSchema.name,
        DBPLANE_ROUTER_REDIS_PREFIX: redis.prefix,
        DBPLANE_ROUTER_HEALTH_INTERVAL_MS: "200",
        DBPLANE_ROUTER_RESHARD_POLL_MS: "200",
        DBPLANE_ROUTER_PG_PORT: "0",
        // The router reads password files only inside the provisioner's data directory.
        DBPLANE_DATA_DIR: dataDir,
        DBPLANE_NATS_NAMESPACE: namespace,
      },
    });
    worlds.push(routers);
    const schedulers = await serviceWorld({
      entry: join(SERVICES, "scheduler/src/main.ts"),
      name: "scheduler",
      jwtSecret: JWT_SECRET,
      env: {
        DBPLANE_LOG_LEVEL: "warn",
        DBPLANE_PG_URL: schedSchema.url,
        DBPLANE_SCHEDULER_SCHEMA: schedSchema.name,
        DBPLANE_NATS_NAMESPACE: namespace,
      },
    });
    worlds.push(schedulers);
    const coordinators = await serviceWorld({
      entry: join(SERVICES, "projection-coordinator/src/main.ts"),
      name: "projection-coordinator",
      jwtSecret: JWT_SECRET,
      env: {
        DBPLANE_LOG_LEVEL: "warn",
        DBPLANE_PG_URL: projSchema.url,
        DBPLANE_PROJECTION_SCHEMA: projSchema.name,
        // The audit read model (events tail) and the fleet's (status).
        DBPLANE_PROJECTIONS: "audit,fleet",
        DBPLANE_PROJECTION_HEARTBEAT_MS: "200",
        DBPLANE_PG_POOL_SIZE: "3",
        DBPLANE_NATS_NAMESPACE: namespace,
      },
    });
    worlds.push(coordinators);
    // A user's stream for the jobs' messages (deleted with the namespace: its name has the prefix).
    await (await jetstreamManager(provisioners.nats.nc)).streams.add({
      name: `${namespace.toUpperCase()}_TARGET`,
      subjects: [`${namespace}.target.>`],
    });
    const [provisioner, router, scheduler, coordinator] = await Promise.all([
      provisioners.startReplica(),
      routers.startReplica(),
      schedulers.startReplica(),
      coordinators.startReplica(),
    ]);

    const cliEnv: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: configHome };
    for (const name of ["DBPLANE_TOKEN", "DBPLANE_CONTEXT", "DBPLANE_JWT_SECRET"]) delete cliEnv[name];

    return {
      provisioner: provisioner!,
      router: router!,
      scheduler: scheduler!,
      coordinator: coordinator!,
      targetSubject: `${namespace}.target.cli`,
      configHome,
      token: (scopes = ["admin"]) => provisioners.token({ scopes }),
      cli(args, env = {}) {
        return new Promise((resolve, reject) => {
          const child = spawn(LAUNCHER, args, {
            env: { ...cliEnv, ...env },
            stdio: ["ignore", "pipe", "pipe"],
          });
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (chunk: Buffer) => {
            stdout += chunk;
          });
          child.stderr.on("data", (chunk: Buffer) => {
            stderr += chunk;
          });
          child.on("error", reject);
          child.on("close", (code) => resolve({ code, stdout, stderr }));
        });
      },
      spawnCli(args) {
        const child = spawn(LAUNCHER, args, { env: cliEnv, stdio: ["ignore", "pipe", "pipe"] });
        running.add(child);
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk;
        });
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk;
        });
        const exited = new Promise<CliRun>((resolve, reject) => {
          child.on("error", reject);
          child.on("close", (code) => {
            running.delete(child);
            resolve({ code, stdout, stderr });
          });
        });
        return { child, stdout: () => stdout, stderr: () => stderr, exited };
      },
      dispose,
    };
  });
}
