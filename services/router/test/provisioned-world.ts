// The router and the real provisioner (local driver: PostgreSQL clusters made with initdb) on
// one bus, for the tests that need real shard servers to fail over or be added and removed.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createTestSchema,
  disposeOnFailure,
  type HttpClient,
  httpClient,
  type ServiceWorld,
  serviceWorld,
  type TestSchema,
  waitFor,
} from "@dbplane/testkit";
import { stopClusters } from "../../provisioner/test/provisioner-world.ts";
import { createRouterWorld, type RouterWorld } from "./router-world.ts";

/** Provisioner settings for a failover within a few seconds of a primary's death. */
export const FAST_FAILOVER_ENV = {
  DBPLANE_FAILOVER_AFTER_MS: "2000",
  DBPLANE_FAILOVER_PROBE_MS: "250",
} as const;

export interface ProvisionedWorldOptions {
  /** Prefix of the provisioner's data directory under the system's temp directory. */
  readonly dataDirPrefix: string;
  /** The router world's own environment (every replica of it). */
  readonly routerWorldEnv?: Record<string, string>;
  /** More environment for the one router replica started. */
  readonly routerEnv?: Record<string, string>;
  /** More environment for the provisioner. */
  readonly provisionerEnv?: Record<string, string>;
  /** A database the test creates: deleted (volumes too) before the world goes. */
  readonly database?: string;
}

export interface ProvisionedWorld {
  readonly routers: RouterWorld;
  readonly provisioners: ServiceWorld;
  readonly schema: TestSchema;
  readonly dataDir: string;
  readonly routerBase: string;
  readonly router: HttpClient;
  readonly provisioner: HttpClient;
  /** The provisioner's warnings and errors so far, one line each: what a timed-out wait adds. */
  provisionerTrouble(): string;
  dispose(): Promise<void>;
}

export async function createProvisionedWorld(options: ProvisionedWorldOptions): Promise<ProvisionedWorld> {
  const routers = await createRouterWorld(0, options.routerWorldEnv ? { env: options.routerWorldEnv } : {});
  const schema = await createTestSchema("prov");
  // Under /tmp and traversable: the servers run as the `postgres` user when tests run as root.
  const dataDir = await mkdtemp(join(tmpdir(), options.dataDirPrefix));
  await chmod(dataDir, 0o711);
  const provisioners = await serviceWorld({
    entry: join(import.meta.dirname, "../../provisioner/src/main.ts"),
    name: "provisioner",
    jwtSecret: "provisioner-test-secret-0123456789abcdef",
    env: {
      DBPLANE_PG_URL: schema.url,
      DBPLANE_PROVISIONER_SCHEMA: schema.name,
      DBPLANE_DATA_DIR: dataDir,
      DBPLANE_RECONCILE_INTERVAL_MS: "200",
      DBPLANE_LOG_LEVEL: "warn",
      // The router's namespace: one bus for both services.
      DBPLANE_NATS_NAMESPACE: routers.nats.namespace,
      ...options.provisionerEnv,
    },
  });
  // A replica not ready in time (under load) stops what was started before it.
  const [p, r] = await disposeOnFailure(
    async () => {
      await provisioners.dispose();
      await routers.dispose();
      await schema.drop();
      await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    },
    async () => {
      const p = await provisioners.startReplica();
      // The router reads password files only inside the provisioner's data directory.
      const r = await routers.startReplica({ env: { DBPLANE_DATA_DIR: dataDir, ...options.routerEnv } });
      return [p, r] as const;
    },
  );
  const provisioner = httpClient(p.base, provisioners.token());
  return {
    routers,
    provisioners,
    schema,
    dataDir,
    routerBase: r.base,
    router: httpClient(r.base, routers.token()),
    provisioner,
    provisionerTrouble: () =>
      provisioners.replicas
        .flatMap((replica) => replica.svc.logs())
        // Warnings and errors, and the failover watcher's own account (info: waits, no-failovers).
        .filter((line) => Number(line.level) >= 40 || /failover/.test(String(line.msg)))
        .map((line) => {
          const { level, time, msg, err } = line as {
            level: number;
            time: string;
            msg: string;
            err?: unknown;
          };
          return `${time} ${level} ${msg}${err ? ` ${JSON.stringify(err)}` : ""}`;
        })
        .slice(-30)
        .join("\n"),
    async dispose() {
      if (options.database) {
        // Deleting the database stops its servers.
        const del = await provisioner.call("DELETE", `/v1/databases/${options.database}?keepVolumes=false`);
        if (del.status === 202) {
          await waitFor(
            async () =>
              (await provisioner.call("GET", `/v1/operations/${del.body.operationId}`)).body.state !==
              "pending",
            { what: "the database deleted", timeoutMs: 60_000 },
          ).catch(() => {});
        }
      }
      await provisioners.dispose();
      await routers.dispose();
      await schema.drop();
      // Whatever the delete did not stop (a test that failed before its database was ready).
      await stopClusters(dataDir);
      await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}
