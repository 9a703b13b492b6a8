// Composition root of discovery: config, connections, driver, fact publishing, consumers, HTTP, shutdown.
import { handle } from "@dbplane/bus";
import { databaseDeleted, databaseReady } from "@dbplane/contracts";
import { serviceProcess } from "@dbplane/service-kit";
import { discoveryApp } from "./app.ts";
import { loadDiscoveryConfig } from "./config.ts";
import type { DiscoveryDriver } from "./discovery-driver.ts";
import { createDiscoveryLoop } from "./discovery-loop.ts";
import { createDiscoveryMetrics } from "./discovery-metrics.ts";
import { createFactPublisher } from "./facts/fact-publisher.ts";
import { type FactRecord, factRecord } from "./facts/fact-record.ts";
import { provisionerDatabaseDeletedHandler } from "./handlers/provisioner-database-deleted.ts";
import { provisionerDatabaseReadyHandler } from "./handlers/provisioner-database-ready.ts";
import { createKubernetesDriver } from "./kubernetes/kubernetes-driver.ts";
import { createLocalDriver } from "./local/local-driver.ts";
import { type ProvisionerCluster, provisionerCluster } from "./local/local-targets.ts";

const service = serviceProcess("discovery", loadDiscoveryConfig(), import.meta.url);
const { name, config, logger } = service;

// Discovery has no mutating route; without a configured key no token can ever be valid.
const app = await service.httpApp();
const bus = await service.connectBus(app);
const facts = await bus.kv<FactRecord>("discovery_facts", { schema: factRecord });
const clusters = await bus.kv<ProvisionerCluster>("discovery_local_clusters", { schema: provisionerCluster });

let driver: DiscoveryDriver | undefined;
let loop: ReturnType<typeof createDiscoveryLoop> | undefined;
const metrics = createDiscoveryMetrics(
  app.metricsRegistry,
  () => driver?.watched() ?? {},
  () => loop?.inventory() ?? { databases: [], apps: [] },
);
driver =
  config.driver === "kubernetes"
    ? createKubernetesDriver({
        kubeconfig: config.DBPLANE_KUBECONFIG,
        namespaces: config.DBPLANE_DISCOVERY_NAMESPACES,
        excludeNamespaces: config.DBPLANE_DISCOVERY_EXCLUDE_NAMESPACES,
        clusterDomain: config.DBPLANE_CLUSTER_DOMAIN,
        secretNamespaces: config.DBPLANE_DISCOVERY_SECRET_NAMESPACES,
        secretRefreshMs: config.DBPLANE_DISCOVERY_SECRET_REFRESH_MS,
        logger,
        onRestart: metrics.watchRestarted,
      })
    : createLocalDriver({
        urls: config.postgresUrls,
        clusters,
        pollMs: config.DBPLANE_DISCOVERY_POLL_MS,
        logger,
      });
logger.info({ driver: driver.kind }, "driver selected");

loop = createDiscoveryLoop({
  driver,
  publisher: createFactPublisher({
    bus,
    kv: facts,
    scope: driver.kind,
    logger,
    onPublished: metrics.published,
  }),
  debounceMs: config.DBPLANE_DISCOVERY_DEBOUNCE_MS,
  resyncMs: config.DBPLANE_DISCOVERY_RESYNC_MS,
  lostRetentionMs: config.DBPLANE_DISCOVERY_LOST_RETENTION_MS,
  onPruned: metrics.pruned,
  logger,
});
const running = loop;
app.addReadinessCheck(driver.kind, async () => {
  if (!running.isReady()) throw new Error("first complete view not in yet");
});

const consumer = await bus.consume({
  durable: name,
  // A cluster's ready and deleted must be applied in stream order, by all replicas.
  ordered: true,
  handlers: [
    handle(databaseReady, provisionerDatabaseReadyHandler(clusters, logger)),
    handle(databaseDeleted, provisionerDatabaseDeletedHandler(clusters, logger)),
  ],
});
await app.register(discoveryApp, { inventory: () => running.inventory() });
loop.start();

await service.run(app, {
  stopWork: [
    { name: "stop consumers", run: () => consumer.stop() },
    { name: "stop watching (the running pass finishes)", run: () => running.stop() },
  ],
  closeConnections: [{ name: "drain NATS", run: () => bus.close() }],
});
