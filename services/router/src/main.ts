// Composition root of the router: config, connections, shard maps, load, consumers, HTTP, shutdown.

import { readFile } from "node:fs/promises";
import { handle } from "@dbplane/bus";
import {
  databaseDeleted,
  databaseReady,
  rebalanceCheck,
  shardLoadSampled,
  shardRemoved,
  splitShard,
} from "@dbplane/contracts";
import { kubeAccess, PasswordResolver, podNamespace } from "@dbplane/kube";
import { medianSplitPoint, RangeMove, RangeMoveError } from "@dbplane/reshard";
import { replicaId, serviceProcess } from "@dbplane/service-kit";
import { routerApp } from "./app.ts";
import { loadRouterConfig } from "./config.ts";
import { type ShardMapDocument, shardMapDocument } from "./domain/shard-map.ts";
import { KvFenceCoordinator } from "./fence/fence-coordinator.ts";
import { openFenceBuckets } from "./fence/fence-documents.ts";
import { createFenceMetrics } from "./fence/fence-metrics.ts";
import { WriteFence } from "./fence/write-fence.ts";
import { databaseDeletedHandler } from "./handlers/database-deleted.ts";
import { databaseReadyHandler } from "./handlers/database-ready.ts";
import { rebalanceCheckHandler, scheduleRebalanceCheck } from "./handlers/rebalance-check.ts";
import { shardRemovedHandler } from "./handlers/shard-removed.ts";
import { splitShardHandler } from "./handlers/split-shard.ts";
import { HotShardDetector } from "./load/hot-shard-detector.ts";
import { LoadWindow } from "./load/load-window.ts";
import { QueryService } from "./query/query-service.ts";
import { AutoSplitter } from "./reshard/auto-split.ts";
import { holdFromFile } from "./reshard/hold-points.ts";
import { RESHARD_TIMINGS } from "./reshard/reshard-machine.ts";
import { ReshardRunner } from "./reshard/reshard-runner.ts";
import { ReshardService } from "./reshard/reshard-service.ts";
import { ReshardStore } from "./reshard/reshard-store.ts";
import { createRouterMetrics } from "./router-metrics.ts";
import { HealthMonitor } from "./shards/health-monitor.ts";
import { MigrationRunner } from "./shards/migration-runner.ts";
import { PreparedStatements } from "./shards/prepared-statements.ts";
import { ServerPoolRegistry } from "./shards/server-pool-registry.ts";
import { STATEMENT_DEADLINE_GRACE_MS } from "./shards/server-session.ts";
import { ShardMapPublisher } from "./shards/shard-map-publisher.ts";
import { ShardMapRegistry } from "./shards/shard-map-registry.ts";
import { createRouterStore } from "./store/router-store.ts";
import { startWireEndpoint } from "./wire/wire-endpoint.ts";

const service = serviceProcess("router", loadRouterConfig(), import.meta.url);
const { name, config, logger } = service;

const platform = service.platformPool();
const store = createRouterStore(platform, config.DBPLANE_ROUTER_SCHEMA);
await store.migrate();

const app = await service.httpApp();
const bus = await service.connectBus(app, { readinessCheck: false });
const kv = await bus.kv<ShardMapDocument>("shardmaps", { schema: shardMapDocument });
const redis = await service.redis();

const refScope = {
  dataDir: config.DBPLANE_DATA_DIR,
  namespace: config.DBPLANE_KUBE_NAMESPACE ?? podNamespace(),
};
const passwords = new PasswordResolver(kubeAccess(config.DBPLANE_KUBECONFIG, "router"), refScope);
const pools = new ServerPoolRegistry(
  {
    max: config.DBPLANE_ROUTER_SHARD_POOL_SIZE,
    statementTimeoutMs: config.DBPLANE_ROUTER_STATEMENT_TIMEOUT_MS,
    connectTimeoutMs: config.DBPLANE_ROUTER_CONNECT_TIMEOUT_MS,
  },
  config.DBPLANE_ROUTER_POOL_RETIRE_MS,
  logger,
  passwords,
  config.DBPLANE_SHARD_TLS_CA,
);
const maps = new ShardMapRegistry(kv, pools, logger, { stallAfterMs: config.DBPLANE_ROUTER_MAP_STALL_MS });
const publisher = new ShardMapPublisher(store, kv, bus, logger);
// Past statement_timeout, so a live shard answers with its own timeout first (server-session.ts).
const statementDeadlineMs = config.DBPLANE_ROUTER_STATEMENT_TIMEOUT_MS + STATEMENT_DEADLINE_GRACE_MS;
const runner = new MigrationRunner(store, logger, statementDeadlineMs);
// HTTP statements repeated often enough run as server-side prepared statements.
const prepared = new PreparedStatements({ after: config.DBPLANE_ROUTER_HTTP_PREPARE_AFTER });
const metrics = createRouterMetrics(app.metricsRegistry, maps, prepared.counts);
const load = new LoadWindow(redis, {
  prefix: config.DBPLANE_ROUTER_REDIS_PREFIX,
  windowSeconds: config.DBPLANE_ROUTER_LOAD_WINDOW_S,
  logger,
});
const detector = new HotShardDetector({
  maps,
  load,
  metrics,
  bus,
  redis,
  redisPrefix: config.DBPLANE_ROUTER_REDIS_PREFIX,
  multiple: config.DBPLANE_ROUTER_HOT_MULTIPLE,
  minRate: config.DBPLANE_ROUTER_HOT_MIN_RATE,
  sustainMs: config.DBPLANE_ROUTER_HOT_SUSTAIN_MS,
  cooldownMs: config.DBPLANE_ROUTER_HOT_COOLDOWN_MS,
  checkMs: config.DBPLANE_ROUTER_HOT_CHECK_MS,
  logger,
  onReport: (h) => autoSplit.onHot(h),
});
// A probe is one tiny query: it gets as long as a connection may take to open.
const health = new HealthMonitor(
  pools,
  config.DBPLANE_ROUTER_HEALTH_INTERVAL_MS,
  config.DBPLANE_ROUTER_CONNECT_TIMEOUT_MS,
  logger,
);
const fenceBuckets = await openFenceBuckets(bus);
const fenceMetrics = createFenceMetrics(app.metricsRegistry);
const fence = new WriteFence({
  buckets: fenceBuckets,
  replica: replicaId(),
  heartbeatMs: config.DBPLANE_ROUTER_FENCE_HEARTBEAT_MS,
  leaseMs: config.DBPLANE_ROUTER_FENCE_LEASE_MS,
  maxHoldMs: config.DBPLANE_ROUTER_FENCE_MAX_HOLD_MS,
  metrics: fenceMetrics,
  logger,
  catchUpMap: (database) => {
    maps.refresh(database).catch((err: unknown) => {
      logger.warn({ err, database }, "shard map: direct read for a held write failed");
    });
  },
});
// The orchestrator's handle (reshard/): raises and lifts fences on every replica.
const fences = new KvFenceCoordinator({ buckets: fenceBuckets, metrics: fenceMetrics, logger });
const queryService = new QueryService({
  maps,
  load,
  metrics,
  maxReplicaLagMs: config.DBPLANE_ROUTER_MAX_REPLICA_LAG_MS,
  maxResultBytes: config.DBPLANE_ROUTER_MAX_RESULT_BYTES,
  statementDeadlineMs,
  prepared,
});

// A shard seen for the first time (at start-up, or joining in a new version) gets every
// recorded migration; already-applied ones are skipped on the shard itself.
maps.onSwap((map, previous) => {
  const joined = [...map.shards.values()].filter((s) => !previous?.shards.has(s.index));
  runner
    .catchUp(map, joined)
    .catch((err) => logger.warn({ err, database: map.database }, "migration catch-up failed"));
});
maps.onSwap(() => fence.mapsChanged());
await publisher.reconcile();
await maps.start();
// Before any write is admitted: heartbeat, then read the fences.
await fence.start();
logger.info({ replica: fence.replica }, "write fence: following fences");

// Readiness is about the data path only. Losing NATS freezes the maps at their last version,
// losing Redis stops the cross-replica load figures, losing the platform database stops new map
// versions and migrations — each is logged, none is a reason to stop routing queries, and a
// shared dependency's blip must not take every router replica out of service at once. What is
// a reason: NATS answering while this replica's view stays behind the bucket — the other
// replicas route by a newer map than this one.
app.addReadinessCheck("shard maps", async () => {
  if (!maps.watching) throw new Error("not following the shard map bucket");
  const behindMs = maps.behindMs();
  if (behindMs > config.DBPLANE_ROUTER_MAP_BEHIND_MAX_MS) {
    throw new Error(`shard maps behind the bucket for ${Math.round(behindMs / 1000)} s`);
  }
});

// Online reshards: any replica may run one (claimed with a lease in PostgreSQL); requests come
// over HTTP, the split-shard command, or the autoSplit policy.
const reshardStore = new ReshardStore(platform, config.DBPLANE_ROUTER_SCHEMA);
const reshardRunner = new ReshardRunner({
  deps: {
    owner: fence.replica,
    store: reshardStore,
    routerStore: store,
    maps,
    publisher,
    migrations: runner,
    fences,
    bus,
    passwords,
    shardCa: config.DBPLANE_SHARD_TLS_CA,
    moves: {
      newMove: (spec) => new RangeMove(spec, logger),
      medianSplitPoint,
      isPermanent: (err) => err instanceof RangeMoveError && err.permanent,
    },
    timings: {
      ...RESHARD_TIMINGS,
      pollMs: config.DBPLANE_ROUTER_RESHARD_POLL_MS,
      fenceAckTimeoutMs: config.DBPLANE_ROUTER_RESHARD_FENCE_TIMEOUT_MS,
      catchUpTimeoutMs: config.DBPLANE_ROUTER_RESHARD_FENCE_TIMEOUT_MS,
      addShardTimeoutMs: config.DBPLANE_ROUTER_RESHARD_ADD_SHARD_TIMEOUT_MS,
    },
    logger,
    hold: holdFromFile(config.DBPLANE_ROUTER_RESHARD_HOLD_FILE),
    onEnded: (state) => metrics.reshardsEnded.inc({ state }),
  },
  leaseMs: config.DBPLANE_ROUTER_RESHARD_LEASE_MS,
  claimEveryMs: config.DBPLANE_ROUTER_RESHARD_POLL_MS * 2,
  logger,
});
const reshards = new ReshardService(reshardStore, maps, reshardRunner, bus, logger);
const autoSplit = new AutoSplitter({
  pool: platform,
  schema: config.DBPLANE_ROUTER_SCHEMA,
  maps,
  reshards,
  logger,
  onDecision: (decision) => metrics.autoSplitDecisions.inc({ decision }),
});

const consumer = await bus.consume({
  durable: name,
  // A database's ready, ready again and deleted must be applied in stream order, by all replicas.
  ordered: true,
  handlers: [
    handle(databaseReady, databaseReadyHandler(store, publisher, refScope, logger)),
    handle(databaseDeleted, databaseDeletedHandler(publisher, fences, logger)),
    handle(shardRemoved, shardRemovedHandler(store, publisher, logger)),
  ],
});
// Commands to the router are work, not broadcast: one replica takes each.
const commands = await bus.consume({
  durable: `${name}-commands`,
  handlers: [
    handle(splitShard, splitShardHandler(reshards, logger)),
    handle(rebalanceCheck, rebalanceCheckHandler(autoSplit, detector, logger)),
  ],
});
// The periodic rebalance check is the scheduler's to fire (DESIGN: services schedule their
// periodic work there); a scheduler that is not up yet gets the command when it is.
if (config.DBPLANE_ROUTER_REBALANCE_CHECK_MS > 0) {
  scheduleRebalanceCheck(bus, config.DBPLANE_ROUTER_REBALANCE_CHECK_MS).catch((err: unknown) =>
    logger.warn({ err }, "could not schedule the rebalance check"),
  );
}
// The collector's samples: one replica takes each; the autoSplit heat they build is in PostgreSQL.
const samples = await bus.consume({
  durable: `${name}-load-samples`,
  handlers: [handle(shardLoadSampled, (event) => autoSplit.onSample(event.data).then(() => {}))],
});
await app.register(routerApp, {
  service: queryService,
  maps,
  publisher,
  detector,
  store,
  runner,
  fence,
  fences,
  reshards,
  autoSplit,
  maxReplicaLagMs: config.DBPLANE_ROUTER_MAX_REPLICA_LAG_MS,
});
const tls =
  config.DBPLANE_ROUTER_TLS_CERT === undefined || config.DBPLANE_ROUTER_TLS_KEY === undefined
    ? undefined
    : {
        cert: await readFile(config.DBPLANE_ROUTER_TLS_CERT, "utf8"),
        key: await readFile(config.DBPLANE_ROUTER_TLS_KEY, "utf8"),
      };
const wire = await startWireEndpoint({
  port: config.DBPLANE_ROUTER_PG_PORT,
  ...(tls === undefined ? {} : { tls }),
  poolSize: config.DBPLANE_ROUTER_WIRE_POOL_SIZE,
  connectTimeoutMs: config.DBPLANE_ROUTER_CONNECT_TIMEOUT_MS,
  shardCa: config.DBPLANE_SHARD_TLS_CA,
  maxReplicaLagMs: config.DBPLANE_ROUTER_MAX_REPLICA_LAG_MS,
  maps,
  fence,
  passwords,
  metrics: metrics.wire,
  logger,
});
metrics.watchWire(wire);
logger.info({ port: wire.port, tls: tls !== undefined }, "PostgreSQL wire endpoint listening");
load.start(config.DBPLANE_ROUTER_LOAD_FLUSH_MS);
detector.start();
health.start();
reshardRunner.start();

await service.run(app, {
  stopWork: [
    { name: "close the wire endpoint", run: () => wire.close() },
    {
      name: "stop consumers",
      run: () => Promise.all([consumer.stop(), commands.stop(), samples.stop()]).then(() => {}),
    },
    { name: "stop the reshard runner (its phase is recorded)", run: () => reshardRunner.stop() },
    { name: "stop hot-shard detector", run: () => detector.stop() },
    { name: "stop health probes", run: () => health.stop() },
  ],
  closeConnections: [
    { name: "stop shard map watch", run: () => maps.stop() },
    { name: "leave the write fences (heartbeat deleted)", run: () => fence.stop() },
    { name: "flush load counts", run: () => load.stop() },
    { name: "drain NATS", run: () => bus.close() },
    { name: "close Redis", run: async () => void (await redis.quit()) },
    { name: "close shard pools", run: () => pools.closeAll() },
    { name: "close PostgreSQL pool", run: () => platform.end() },
  ],
});
