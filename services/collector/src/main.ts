// Composition root of the collector: config, connections, registry, membership, collection, consumers, HTTP, shutdown.
import { hostname } from "node:os";
import { kubeAccess, PasswordResolver, podNamespace } from "@dbplane/kube";
import { redactUrl, replicaId, serviceProcess } from "@dbplane/service-kit";
import { collectorApp } from "./app.ts";
import { CollectionEvents } from "./collection/collection-events.ts";
import { CollectionLoop } from "./collection/collection-loop.ts";
import { SampleStore } from "./collection/sample-store.ts";
import { TargetMetrics } from "./collection/target-metrics.ts";
import { createCollectorMetrics } from "./collector-metrics.ts";
import { loadCollectorConfig } from "./config.ts";
import { coordinationKeys } from "./coordination/coordination-keys.ts";
import { Membership } from "./coordination/membership.ts";
import { staticTargets } from "./domain/static-targets.ts";
import { discoveryDatabaseHandlers } from "./handlers/discovery-database.ts";
import { provisionerEventsHandlers } from "./handlers/provisioner-events.ts";
import { ConnectionCache } from "./receivers/connection-cache.ts";
import { reconcileStaticTargets } from "./targets/static-reconcile.ts";
import { targetPasswords } from "./targets/target-passwords.ts";
import { TargetRegistry } from "./targets/target-registry.ts";

const service = serviceProcess("collector", loadCollectorConfig(), import.meta.url);
const { name, config, logger } = service;
const memberId = replicaId();
const keys = coordinationKeys(config.DBPLANE_COLLECTOR_REDIS_PREFIX);

const app = await service.httpApp();
const redis = await service.redis();
logger.info({ redis: redactUrl(config.DBPLANE_REDIS_URL), memberId }, "coordinating in Redis");

const bus = await service.connectBus(app, { readinessCheck: false });

const registry = new TargetRegistry(redis, keys);
const samples = new SampleStore(redis, keys);
const statics = staticTargets(config.DBPLANE_COLLECTOR_TARGETS);
const metrics = createCollectorMetrics(app.metricsRegistry, () =>
  redis.zcount(keys.members, Date.now() - config.DBPLANE_COLLECTOR_NODE_TIMEOUT_MS, "+inf"),
);
// Provisioned shards' refs arrive in events: only what the provisioner issues is read; the
// operator's own credential for discovered servers is accepted as configured.
const refScope = {
  dataDir: config.DBPLANE_DATA_DIR,
  namespace: config.DBPLANE_KUBE_NAMESPACE ?? podNamespace(),
  configured: config.DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_REF
    ? [config.DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_REF]
    : [],
};
const connections = new ConnectionCache(
  config.DBPLANE_COLLECTOR_MAX_OPEN_TARGETS,
  {
    maxConnectionsPerTarget: config.DBPLANE_COLLECTOR_TARGET_CONNECTIONS,
    connectTimeoutMs: config.DBPLANE_COLLECTOR_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.DBPLANE_COLLECTOR_STATEMENT_TIMEOUT_MS,
    topStatements: config.DBPLANE_COLLECTOR_TOP_STATEMENTS,
    shardCa: config.DBPLANE_SHARD_TLS_CA,
  },
  targetPasswords(
    new PasswordResolver(kubeAccess(config.DBPLANE_KUBECONFIG, "collector"), refScope),
    statics.passwords,
  ),
);
const loop = new CollectionLoop({
  deps: {
    memberId,
    connections,
    samples,
    registry,
    targetMetrics: new TargetMetrics(app.metricsRegistry),
    events: new CollectionEvents(bus, logger),
    metrics,
    limits: {
      maxReplicationLagSeconds: config.DBPLANE_COLLECTOR_MAX_LAG_SECONDS,
      maxReplicationLagBytes: config.DBPLANE_COLLECTOR_MAX_LAG_BYTES,
      connectionsNearMaxRatio: config.DBPLANE_COLLECTOR_CONNECTIONS_NEAR_MAX,
      memoryNearMaxRatio: config.DBPLANE_COLLECTOR_MEMORY_NEAR_MAX,
    },
    timeoutMs: config.DBPLANE_COLLECTOR_TIMEOUT_MS,
    logger,
  },
  registry,
  intervalMs: config.DBPLANE_COLLECTOR_INTERVAL_MS,
  concurrency: config.DBPLANE_COLLECTOR_CONCURRENCY,
  logger,
});
await registry.upsert(statics.specs);

const membership = new Membership({
  redis,
  keys,
  memberId,
  info: {
    host: hostname(),
    pid: process.pid,
    port: config.DBPLANE_HTTP_PORT,
    startedAt: new Date().toISOString(),
  },
  heartbeatMs: config.DBPLANE_COLLECTOR_HEARTBEAT_MS,
  nodeTimeoutMs: config.DBPLANE_COLLECTOR_NODE_TIMEOUT_MS,
  leaseMs: config.DBPLANE_COLLECTOR_LEASE_MS,
  metrics,
  logger,
  onAssignment: (assignment) => loop.setAssignment(assignment),
  onLeadership: () => reconcileStaticTargets(registry, statics.specs, logger),
});

const discovery = await bus.consume({
  durable: `${name}-discovery`,
  // A database's discovered, changed and lost must be applied in stream order, by all replicas.
  ordered: true,
  handlers: discoveryDatabaseHandlers(
    registry,
    {
      user: config.DBPLANE_COLLECTOR_DISCOVERED_USER,
      ...(config.DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_REF && {
        credential: config.DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_REF,
        credentialHosts: config.DBPLANE_COLLECTOR_DISCOVERED_PASSWORD_HOSTS,
      }),
    },
    logger,
  ),
});
const provisioner = await bus.consume({
  durable: `${name}-provisioner`,
  ordered: true,
  handlers: provisionerEventsHandlers(registry, refScope, logger),
});
app.addReadinessCheck("redis", async () => {
  await redis.ping();
});
await app.register(collectorApp, {
  redis,
  keys,
  registry,
  samples,
  nodeTimeoutMs: config.DBPLANE_COLLECTOR_NODE_TIMEOUT_MS,
});
loop.start();
await membership.start();

await service.run(app, {
  stopWork: [
    { name: "stop consumers", run: () => Promise.all([discovery.stop(), provisioner.stop()]).then(() => {}) },
    { name: "leave the group (release the lease, hand targets over)", run: () => membership.stop() },
    { name: "stop collecting (finish running collections, close target pools)", run: () => loop.stop() },
  ],
  closeConnections: [
    { name: "drain NATS", run: () => bus.close() },
    { name: "close Redis", run: async () => void (await redis.quit()) },
  ],
});
