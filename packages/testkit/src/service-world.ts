import { type ChildService, startChildService } from "./child-service.ts";
import { readEvents, type SeenEvent } from "./event-stream.ts";
import { freePort } from "./free-port.ts";
import { createTestNats, type TestNats } from "./nats.ts";
import { signTestToken, type TestTokenOptions } from "./test-token.ts";

type Env = Record<string, string>;

/** How one replica differs from the others of its world. */
export interface ReplicaOptions {
  /** Added to the world's env for this replica only. */
  readonly env?: Env;
  /** The replica is named `<name>-<n>`; default the world's name. */
  readonly name?: string;
  /** Wait until `/health/ready` answers 200 (the default); false returns as soon as it spawned. */
  readonly waitReady?: boolean;
}

/** A running (or stopped) replica: a child process of the test. */
export interface ServiceReplica {
  /** `<name>-<n>`, unique in its world; prefixes its echoed output (DBPLANE_TEST_ECHO=1). */
  readonly name: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly base: string;
  readonly svc: ChildService;
  /** What it was started with; `restartReplica` starts the replacement with the same. */
  readonly options: ReplicaOptions;
  /**
   * Sends `signal` (SIGTERM: a graceful shutdown; SIGKILL: a crash) and resolves with the exit
   * code, or the signal's name when the signal ended it. Safe to call on a stopped replica.
   */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>;
  /** A counter or gauge from its `/metrics`, summed over the label sets that contain `labels`; 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

export interface ServiceWorldOptions<X extends object> {
  /** The service's entry file (its `src/main.ts`). */
  readonly entry: string;
  /** The service's name: names its replicas and the default token subject. */
  readonly name: string;
  /** Given to every replica as DBPLANE_JWT_SECRET; `token()` signs with it. */
  readonly jwtSecret?: string;
  /**
   * Env of every replica, on top of the world's own (HTTP host and port, NATS URL and
   * namespace, the JWT secret, no shutdown delay, anonymous read) and under a replica's `env`. A function is
   * called per replica, e.g. for a member id that follows the replica's name.
   */
  readonly env?: Env | ((replica: { readonly name: string; readonly port: number }) => Env);
  /** A test's private nats-server (one it stops and starts) instead of the shared one. */
  readonly natsUrl?: string;
  /** How long a replica may take to become ready. Default 30 s. */
  readonly readyTimeoutMs?: number;
  /** Runs once a replica is ready; what it resolves to is added to the replica (e.g. its member id). */
  readonly extend?: (replica: ServiceReplica) => X | Promise<X>;
}

/** One test's service: a NATS namespace of its own and the replicas started in it. */
export interface ServiceWorld<X extends object = Record<never, never>> {
  readonly nats: TestNats;
  /** Every replica started so far, stopped ones included, in start order. */
  readonly replicas: readonly (ServiceReplica & X)[];
  /** Starts a replica on a free port and, unless `waitReady` is false, waits until it is ready. */
  startReplica(options?: ReplicaOptions): Promise<ServiceReplica & X>;
  /** Starts `count` replicas at once. */
  startReplicas(count: number, options?: ReplicaOptions): Promise<(ServiceReplica & X)[]>;
  /** Stops `replica` with `signal` (default SIGTERM), then starts one like it (a new name and port). */
  restartReplica(replica: ServiceReplica, signal?: NodeJS.Signals): Promise<ServiceReplica & X>;
  /** A bearer token signed with `jwtSecret`; subject `<name>-test` and scope `admin` unless given. */
  token(options?: TestTokenOptions): string;
  /** The events in the namespace's `DBPLANE_EVT` so far; `subjectPrefix` as in {@link readEvents}. */
  events(subjectPrefix?: string): Promise<SeenEvent[]>;
  /** Everything every replica printed. */
  output(): string;
  /** Registers a cleanup for `dispose`: they run last first, after the replicas are killed. */
  defer(cleanup: () => unknown): void;
  /** Kills every replica (SIGKILL), runs the deferred cleanups, deletes the NATS namespace; once. */
  dispose(): Promise<void>;
}

/** Prometheus text format: the samples of `name` whose labels include `labels`, added up. */
function sumOfSamples(exposition: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of exposition.split("\n")) {
    if (line.split(/[{ ]/)[0] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      sum += Number(line.split(" ").at(-1));
  }
  return sum;
}

/** Starts replica `name` of the world's service on a free port. */
async function launchReplica(
  options: ServiceWorldOptions<object>,
  nats: TestNats,
  name: string,
  replicaOptions: ReplicaOptions,
): Promise<ServiceReplica> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const serviceEnv = typeof options.env === "function" ? options.env({ name, port }) : options.env;
  const svc = await startChildService({
    entry: options.entry,
    name,
    ...(replicaOptions.waitReady !== false && {
      readyUrl: `${base}/health/ready`,
      readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    }),
    env: {
      DBPLANE_HTTP_HOST: "127.0.0.1",
      DBPLANE_HTTP_PORT: String(port),
      DBPLANE_NATS_URL: nats.url,
      DBPLANE_NATS_NAMESPACE: nats.namespace,
      DBPLANE_SHUTDOWN_DELAY_MS: "0",
      // Parallel test files starve processes of CPU for a second at times: no load shedding
      // (which answers 503) for that, or a test of something else fails for it.
      DBPLANE_HTTP_MAX_EVENT_LOOP_DELAY_MS: "30000",
      // As in ./scripts/dev: GETs need no token, so a test reads state as a user of the dev
      // stack would. Tests of the `read` scope set it to "false".
      DBPLANE_ANONYMOUS_READ: "true",
      ...(options.jwtSecret !== undefined && { DBPLANE_JWT_SECRET: options.jwtSecret }),
      ...serviceEnv,
      ...replicaOptions.env,
    },
  });
  return {
    name,
    port,
    base,
    svc,
    options: replicaOptions,
    stop(signal = "SIGTERM") {
      if (svc.process.exitCode === null && svc.process.signalCode === null) svc.kill(signal);
      return svc.exited;
    },
    metric: async (metricName, labels = {}) =>
      sumOfSamples(await (await fetch(`${base}/metrics`)).text(), metricName, labels),
  };
}

/**
 * Starts a service's replicas as child processes in a NATS namespace of their own, for e2e tests.
 * The service-specific world (databases, doubles, helpers) is a thin layer on top: it creates
 * what the service needs, passes it in `env`, and hands its cleanup to `defer`.
 */
export async function serviceWorld<X extends object = Record<never, never>>(
  options: ServiceWorldOptions<X>,
): Promise<ServiceWorld<X>> {
  const nats = await createTestNats(options.natsUrl);
  // Every process, those whose `extend` failed included: dispose kills them all.
  const children: ChildService[] = [];
  const replicas: (ServiceReplica & X)[] = [];
  const cleanups: (() => unknown)[] = [];
  let started = 0;
  let disposed: Promise<void> | undefined;

  const startReplica = async (replicaOptions: ReplicaOptions = {}): Promise<ServiceReplica & X> => {
    const name = `${replicaOptions.name ?? options.name}-${started++}`;
    const replica = await launchReplica(options, nats, name, replicaOptions);
    children.push(replica.svc);
    const extended = { ...replica, ...(await options.extend?.(replica)) } as ServiceReplica & X;
    replicas.push(extended);
    return extended;
  };

  return {
    nats,
    replicas,
    startReplica,
    startReplicas: (count, replicaOptions) =>
      Promise.all(Array.from({ length: count }, () => startReplica(replicaOptions))),
    async restartReplica(replica, signal = "SIGTERM") {
      await replica.stop(signal);
      return startReplica(replica.options);
    },
    token(tokenOptions = {}) {
      if (options.jwtSecret === undefined) throw new Error(`${options.name}'s world has no jwtSecret`);
      return signTestToken(options.jwtSecret, { sub: `${options.name}-test`, ...tokenOptions });
    },
    events: (subjectPrefix) => readEvents(nats.nc, nats.namespace, subjectPrefix),
    output: () => children.map((c) => c.output()).join("\n"),
    defer(cleanup) {
      cleanups.push(cleanup);
    },
    dispose() {
      disposed ??= (async () => {
        await Promise.all(children.map((c) => c.dispose()));
        // Every cleanup runs even when one fails; the failures are reported together.
        const failures: unknown[] = [];
        for (const cleanup of cleanups.reverse()) {
          try {
            await cleanup();
          } catch (err) {
            failures.push(err);
          }
        }
        await nats.cleanup();
        if (failures.length > 0)
          throw new AggregateError(failures, `${options.name}'s world: cleanup failed`);
      })();
      return disposed;
    },
  };
}
