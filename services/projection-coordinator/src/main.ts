// Composition root of the projection-coordinator: config, connections, projection runtime, HTTP, shutdown.
import { createProjectionRuntime } from "@dbplane/projections";
import { poolReadiness, replicaId, serviceProcess } from "@dbplane/service-kit";
import { coordinatorApp } from "./app.ts";
import { loadCoordinatorConfig } from "./config.ts";
import { readModelChanges } from "./console/read-model-changes.ts";
import { unitChangePublisher } from "./events/unit-change-publisher.ts";
import { loadProjections } from "./projections/load-projections.ts";
import { migrateCoordinationSchema } from "./store/coordination-schema.ts";

const service = serviceProcess("projection-coordinator", loadCoordinatorConfig(), import.meta.url);
const { config, logger } = service;
const memberId = config.DBPLANE_PROJECTION_MEMBER_ID ?? replicaId();

const projections = await loadProjections(config.DBPLANE_PROJECTIONS, config.DBPLANE_PROJECTION_MODULES);
const pool = service.platformPool();
const tables = await migrateCoordinationSchema(pool, config.DBPLANE_PROJECTION_SCHEMA);

const app = await service.httpApp({ postgres: poolReadiness(pool) });
const bus = await service.connectBus(app);

const runtime = createProjectionRuntime({
  pool,
  nc: bus.nc,
  namespace: config.DBPLANE_NATS_NAMESPACE,
  schema: config.DBPLANE_PROJECTION_SCHEMA,
  projections,
  memberId,
  logger,
  registry: app.metricsRegistry,
  heartbeatMs: config.DBPLANE_PROJECTION_HEARTBEAT_MS,
  memberTtlMs: config.DBPLANE_PROJECTION_MEMBER_TTL_MS,
  batchSize: config.DBPLANE_PROJECTION_BATCH_SIZE,
  maxAttempts: config.DBPLANE_PROJECTION_MAX_ATTEMPTS,
  idleFlushMs: config.DBPLANE_PROJECTION_IDLE_FLUSH_MS,
  retiredTtlMs: config.DBPLANE_PROJECTION_RETIRED_TTL_MS,
  onUnitChange: unitChangePublisher(bus),
});
const changes = readModelChanges(pool, config.DBPLANE_PROJECTION_SCHEMA, logger);
await app.register(coordinatorApp, {
  pool,
  tables,
  runtime,
  changes,
  upstreams: {
    discovery: config.DBPLANE_DISCOVERY_URL,
    provisioner: config.DBPLANE_PROVISIONER_URL,
    router: config.DBPLANE_ROUTER_URL,
    scheduler: config.DBPLANE_SCHEDULER_URL,
    collector: config.DBPLANE_COLLECTOR_URL,
  },
});
// Join only once the app is built: the others hand units over as soon as this replica appears,
// and a process still compiling its routes would leave those units idle.
await app.ready();
// Warms up (connections, stream, handlers run once) before it joins: see ProjectionRuntime.start.
await runtime.start();

await service.run(app, {
  stopWork: [
    {
      name: "stop projections (finish transactions, store checkpoints, release units)",
      run: () => runtime.stop(),
    },
  ],
  closeConnections: [
    { name: "stop the console's change listener", run: () => changes.close() },
    { name: "drain NATS", run: () => bus.close() },
    { name: "close PostgreSQL pool", run: () => pool.end() },
  ],
});
