// Composition root of the provisioner: config, connections, driver, reconcile loop, consumers, HTTP, shutdown.
import { handle } from "@dbplane/bus";
import {
  addShard,
  createDatabase,
  deleteDatabase,
  removeShard,
  runBackup,
  scaleReplicas,
  shardMapPublished,
} from "@dbplane/contracts";
import { podNamespace } from "@dbplane/kube";
import { poolReadiness, serviceProcess } from "@dbplane/service-kit";
import { provisionerApp } from "./app.ts";
import { busBackupSchedules } from "./backups/backup-schedules.ts";
import { loadProvisionerConfig, quotasOf } from "./config.ts";
import { createDatabaseAdmin } from "./databases/database-admin.ts";
import { DEFAULT_POSTGRES_VERSION } from "./domain/postgres-version.ts";
import { createCloudNativePgDriver } from "./drivers/cloudnativepg/cloudnativepg-driver.ts";
import type { ShardDriver } from "./drivers/driver.ts";
import { createKubernetesDriver } from "./drivers/kubernetes/kubernetes-driver.ts";
import { createLocalDriver } from "./drivers/local/local-driver.ts";
import { PgBinaryFinder } from "./drivers/local/pg-binaries.ts";
import { createOutboxRelay } from "./events/outbox-relay.ts";
import { createFailoverWatcher } from "./failover/failover-watcher.ts";
import { addShardHandler } from "./handlers/add-shard.ts";
import { createDatabaseHandler } from "./handlers/create-database.ts";
import { deleteDatabaseHandler } from "./handlers/delete-database.ts";
import { removeShardHandler } from "./handlers/remove-shard.ts";
import { runBackupHandler } from "./handlers/run-backup.ts";
import { scaleReplicasHandler } from "./handlers/scale-replicas.ts";
import { shardMapPublishedHandler } from "./handlers/shard-map-published.ts";
import { createProvisionerMetrics } from "./provisioner-metrics.ts";
import { createReconcileLoop } from "./reconcile/reconcile-loop.ts";
import { createDesiredState } from "./store/desired-state.ts";
import { migrate } from "./store/migrations.ts";
import { createProgress } from "./store/progress.ts";
import { createQueries } from "./store/queries.ts";
import { provisionerTables } from "./store/schema-tables.ts";

const service = serviceProcess("provisioner", loadProvisionerConfig(), import.meta.url);
const { name, config, logger } = service;

const pool = service.platformPool({
  // Each running reconcile pass holds one connection (its advisory lock) and uses others.
  max: Math.max(config.DBPLANE_PG_POOL_SIZE, config.DBPLANE_RECONCILE_CONCURRENCY * 2 + 4),
});
const tables = provisionerTables(config.DBPLANE_PROVISIONER_SCHEMA);
await migrate(pool, tables.schema);
const queries = createQueries(pool, tables);

const router = {
  host: config.DBPLANE_PROVISIONER_ROUTER_PG_HOST,
  port: config.DBPLANE_PROVISIONER_ROUTER_PG_PORT,
};
const platformNamespace = config.DBPLANE_KUBE_PLATFORM_NAMESPACE ?? podNamespace();
const secretReaders = config.DBPLANE_KUBE_SECRET_READERS && {
  namespace: platformNamespace,
  ...Object.fromEntries(config.DBPLANE_KUBE_SECRET_READERS.map((entry) => entry.split("="))),
};
const driver: ShardDriver =
  config.DBPLANE_PROVISIONER_DRIVER === "cloudnativepg"
    ? await createCloudNativePgDriver({
        kubeconfig: config.DBPLANE_KUBECONFIG,
        namespace: config.DBPLANE_KUBE_NAMESPACE ?? podNamespace(),
        image: config.DBPLANE_CNPG_IMAGE,
        router,
        readers: secretReaders,
        shardCa: { namespace: platformNamespace, name: config.DBPLANE_KUBE_SHARD_CA },
        backup: config.DBPLANE_BACKUP_S3_URL
          ? {
              url: config.DBPLANE_BACKUP_S3_URL,
              endpoint: config.DBPLANE_BACKUP_S3_ENDPOINT,
              credentialsSecret: config.DBPLANE_BACKUP_S3_SECRET,
            }
          : undefined,
        logger,
      })
    : config.DBPLANE_PROVISIONER_DRIVER === "kubernetes"
      ? await createKubernetesDriver({
          kubeconfig: config.DBPLANE_KUBECONFIG,
          namespace: config.DBPLANE_KUBE_NAMESPACE ?? podNamespace(),
          image: config.DBPLANE_POSTGRES_IMAGE,
          router,
          network: {
            podCidrs: config.DBPLANE_KUBE_POD_CIDRS,
            platformNamespace: config.DBPLANE_KUBE_NETWORK_POLICY ? platformNamespace : undefined,
          },
          tls: config.DBPLANE_KUBE_CERT_MANAGER_ISSUER
            ? {
                kind: "cert-manager",
                issuerKind: config.DBPLANE_KUBE_CERT_MANAGER_ISSUER.startsWith("Cluster")
                  ? "ClusterIssuer"
                  : "Issuer",
                issuerName: config.DBPLANE_KUBE_CERT_MANAGER_ISSUER.split("/")[1] ?? "",
              }
            : { kind: "provisioner-ca", namespace: platformNamespace, name: config.DBPLANE_KUBE_SHARD_CA },
          readers: secretReaders,
          backup: config.DBPLANE_BACKUP_S3_URL
            ? {
                url: config.DBPLANE_BACKUP_S3_URL,
                endpoint: config.DBPLANE_BACKUP_S3_ENDPOINT,
                credentialsSecret: config.DBPLANE_BACKUP_S3_SECRET,
                uploaderImage: config.DBPLANE_BACKUP_UPLOADER_IMAGE,
              }
            : undefined,
          logger,
        })
      : await createLocalDriver({
          dataDir: config.DBPLANE_DATA_DIR,
          binDir: config.DBPLANE_PG_BIN_DIR,
          osUser: config.DBPLANE_PG_OS_USER,
          slotMaxLagBytes: config.DBPLANE_SLOT_MAX_LAG_BYTES,
          router,
          logger,
        });
logger.info({ driver: driver.kind }, "driver ready");

const app = await service.httpApp({ postgres: poolReadiness(pool) });
const metrics = createProvisionerMetrics(app.metricsRegistry, queries);
const bus = await service.connectBus(app);

const relay = createOutboxRelay({
  pool,
  tables,
  bus,
  logger,
  intervalMs: Math.min(config.DBPLANE_RECONCILE_INTERVAL_MS, 1_000),
  onPublished: metrics.published,
});
const loop = createReconcileLoop({
  pool,
  schema: tables.schema,
  queries,
  progress: createProgress(pool, tables),
  driver,
  logger,
  maxAttempts: config.DBPLANE_RECONCILE_MAX_ATTEMPTS,
  intervalMs: config.DBPLANE_RECONCILE_INTERVAL_MS,
  resyncMs: config.DBPLANE_RESYNC_INTERVAL_MS,
  concurrency: config.DBPLANE_RECONCILE_CONCURRENCY,
  onPass(_name, outcome, seconds) {
    metrics.pass(outcome, seconds);
    if (outcome !== "idle" && outcome !== "retry") relay.kick();
  },
});
// A create without a PostgreSQL version: locally the machine's (newest installed), else a fixed default.
const localBinaries = new PgBinaryFinder(config.DBPLANE_PG_BIN_DIR);
// Shards whose driver fails them over itself (local): a watcher per replica, one failover per outage.
const watcher =
  driver.failover &&
  createFailoverWatcher({
    pool,
    schema: tables.schema,
    queries,
    progress: createProgress(pool, tables),
    failover: driver.failover,
    logger,
    afterMs: config.DBPLANE_FAILOVER_AFTER_MS,
    deadAfterMs: config.DBPLANE_FAILOVER_DEAD_AFTER_MS,
    probeMs: config.DBPLANE_FAILOVER_PROBE_MS,
    onOutcome(outcome) {
      metrics.failover(outcome);
      if (outcome === "promoted") relay.kick();
    },
  });
const admin = createDatabaseAdmin(createDesiredState(pool, tables, quotasOf(config)), {
  defaultPostgresVersion: async () =>
    (driver.kind === "local" ? await localBinaries.defaultMajor() : undefined) ?? DEFAULT_POSTGRES_VERSION,
  wake: () => {
    relay.kick();
    loop.kick();
  },
  backupSchedules: busBackupSchedules(bus),
  supports: {
    synchronousMode: driver.kind !== "kubernetes",
    backupRetainCount: driver.kind !== "cloudnativepg",
  },
});

const consumer = await bus.consume({
  durable: name,
  handlers: [
    handle(createDatabase, createDatabaseHandler(admin, logger)),
    handle(deleteDatabase, deleteDatabaseHandler(admin, logger)),
    handle(addShard, addShardHandler(admin, logger)),
    handle(removeShard, removeShardHandler(admin, logger)),
    handle(scaleReplicas, scaleReplicasHandler(admin, logger)),
    handle(runBackup, runBackupHandler(admin, logger)),
  ],
});
// Which shards the router's newest map gives a range: remove-shard refuses those.
const maps = await bus.consume({
  durable: `${name}-shard-maps`,
  handlers: [handle(shardMapPublished, shardMapPublishedHandler(pool, tables, logger))],
});
await app.register(provisionerApp, { admin, queries });
relay.start();
loop.start();
watcher?.start();

await service.run(app, {
  stopWork: [
    { name: "stop consumers", run: () => Promise.all([consumer.stop(), maps.stop()]).then(() => {}) },
    { name: "stop reconciling (running passes finish)", run: () => loop.stop() },
    { name: "stop watching primaries", run: async () => watcher?.stop() },
    { name: "publish what the outbox holds", run: () => relay.stop() },
  ],
  closeConnections: [
    { name: "drain NATS", run: () => bus.close() },
    { name: "close driver", run: () => driver.close() },
    { name: "close PostgreSQL pool", run: () => pool.end() },
  ],
});
