// Composition root of the scheduler: config, connections, firing, consumers, HTTP, shutdown.
import { setPriority } from "node:os";
import { handle } from "@dbplane/bus";
import { cancelJob, scheduleJob } from "@dbplane/contracts";
import { natsAuthFromEnv, poolReadiness, replicaId, serviceProcess } from "@dbplane/service-kit";
import { jetstreamManager } from "@nats-io/jetstream";
import { Gauge } from "prom-client";
import { schedulerApp } from "./app.ts";
import { loadSchedulerConfig } from "./config.ts";
import { DeliveryEvents } from "./delivery/delivery-events.ts";
import { DeliveryWorker } from "./delivery/delivery-worker.ts";
import { targetNamespace } from "./domain/target-namespace.ts";
import { FiringEvents } from "./firing/firing-events.ts";
import { createFiringLoop } from "./firing/firing-loop.ts";
import { FiringThread } from "./firing/firing-thread-client.ts";
import { cancelJobHandler } from "./handlers/cancel-job.ts";
import { scheduleJobHandler } from "./handlers/schedule-job.ts";
import { createJobAdmin } from "./jobs/job-admin.ts";
import { ReplicaHeartbeat } from "./jobs/replica-heartbeat.ts";
import { RunPruner } from "./jobs/run-pruner.ts";
import { createTargetCheck } from "./jobs/target-check.ts";
import { createSchedulerMetrics } from "./scheduler-metrics.ts";
import { createSchedulerStore } from "./store/scheduler-store.ts";

const service = serviceProcess("scheduler", loadSchedulerConfig(), import.meta.url);
const { name, config, logger } = service;
const owner = replicaId();

const pool = service.platformPool({
  // No claim, renewal or recording may hang on a lock or a stuck server: it fails, is logged
  // and retried next round, and firing goes on (a hung claim would stop this replica firing).
  statement_timeout: config.DBPLANE_SCHEDULER_STATEMENT_TIMEOUT_MS,
  lock_timeout: Math.min(10_000, config.DBPLANE_SCHEDULER_STATEMENT_TIMEOUT_MS),
  idle_in_transaction_session_timeout: 2 * config.DBPLANE_SCHEDULER_STATEMENT_TIMEOUT_MS,
});
const store = createSchedulerStore(pool, { schema: config.DBPLANE_SCHEDULER_SCHEMA });
await store.migrate();

const app = await service.httpApp({ postgres: poolReadiness(pool) });
const metrics = createSchedulerMetrics(app.metricsRegistry, store);
const bus = await service.connectBus(app);
// Target subjects are published inside the bus's namespace, like every other dbplane subject.
const namespace = targetNamespace(bus.names.namespace);

// The replica that ends a delivery announces it; others step in a lease later (below the bus
// duplicate window, as the config checks), so a repeat of the event is dropped.
const deliveryEvents = new DeliveryEvents({
  bus,
  store,
  graceMs: config.DBPLANE_SCHEDULER_LEASE_MS,
  logger,
});
const deliveries = new DeliveryWorker({
  store,
  owner,
  allowList: config.DBPLANE_SCHEDULER_WEBHOOK_ALLOW,
  concurrency: config.DBPLANE_SCHEDULER_WEBHOOK_CONCURRENCY,
  pollMs: config.DBPLANE_SCHEDULER_TICK_MS,
  leaseMarginMs: config.DBPLANE_SCHEDULER_LEASE_MS,
  events: deliveryEvents,
  metrics,
  logger,
});
const firingThread = config.DBPLANE_SCHEDULER_FIRING_THREAD
  ? await FiringThread.start({
      servers: config.DBPLANE_NATS_URL,
      name,
      auth: natsAuthFromEnv(config),
      logLevel: config.DBPLANE_LOG_LEVEL,
      publishConcurrency: config.DBPLANE_SCHEDULER_PUBLISH_CONCURRENCY,
      logger,
      onDied(err) {
        // Its occurrences can no longer be published from here: exit, so that the claims expire
        // and another replica (or this one, restarted) fires them under the same ids.
        logger.fatal({ err }, "firing thread died; exiting");
        process.exit(70);
      },
    })
  : undefined;
if (firingThread && config.DBPLANE_SCHEDULER_MAIN_THREAD_NICE > 0) {
  // On Linux a thread's nice value is its own: this lowers the main thread only (and threads it
  // starts later), not the firing thread started above. Lowering needs no privilege.
  try {
    setPriority(config.DBPLANE_SCHEDULER_MAIN_THREAD_NICE);
  } catch (err) {
    logger.warn({ err }, "could not lower the main thread's priority");
  }
}
const firing = createFiringLoop({
  store,
  publisher: bus,
  events: new FiringEvents(bus, logger),
  namespace,
  owner,
  tickMs: config.DBPLANE_SCHEDULER_TICK_MS,
  horizonMs: config.DBPLANE_SCHEDULER_HORIZON_MS,
  leaseMs: config.DBPLANE_SCHEDULER_LEASE_MS,
  claimLimit: config.DBPLANE_SCHEDULER_CLAIM_LIMIT,
  publishConcurrency: config.DBPLANE_SCHEDULER_PUBLISH_CONCURRENCY,
  metrics,
  logger,
  onDeliveriesQueued: () => deliveries.poke(),
  thread: firingThread,
});
new Gauge({
  name: "dbplane_scheduler_occurrences",
  help: "This replica's held occurrences by stage: held (all, until recorded), timer_buckets, publish_waiting, publish_in_flight, unrecorded",
  labelNames: ["stage"],
  registers: [app.metricsRegistry],
  collect() {
    const s = firing.stages();
    this.set({ stage: "held" }, s.held);
    this.set({ stage: "timer_buckets" }, s.timerBuckets);
    this.set({ stage: "publish_waiting" }, s.publishWaiting);
    this.set({ stage: "publish_in_flight" }, s.publishInFlight);
    this.set({ stage: "unrecorded" }, s.unrecorded);
  },
});
const jobs = createJobAdmin({
  store,
  checkTarget: createTargetCheck(
    await jetstreamManager(bus.nc, { checkAPI: false }),
    config.DBPLANE_SCHEDULER_LEASE_MS + config.DBPLANE_SCHEDULER_TICK_MS,
    config.DBPLANE_SCHEDULER_WEBHOOK_ALLOW,
    namespace,
  ),
  namespace,
  forget: (jobId) => firing.forget(jobId),
  maxJobsPerOwner: config.DBPLANE_SCHEDULER_MAX_JOBS_PER_OWNER,
});
const consumer = await bus.consume({
  durable: name,
  handlers: [
    handle(scheduleJob, scheduleJobHandler(jobs, logger)),
    handle(cancelJob, cancelJobHandler(jobs, logger)),
  ],
});
const pruner = new RunPruner({
  store,
  retention: config.DBPLANE_SCHEDULER_RUN_RETENTION,
  everyMs: config.DBPLANE_SCHEDULER_RUN_PRUNE_INTERVAL_MS,
  pruned: metrics.runsPruned,
  logger,
});
const heartbeat = new ReplicaHeartbeat({
  store,
  owner,
  leaseMs: config.DBPLANE_SCHEDULER_LEASE_MS,
  firing,
  logger,
});
await app.register(schedulerApp, { jobs, store });
firing.start();
deliveries.start();
deliveryEvents.start();
pruner.start();
heartbeat.start();

await service.run(app, {
  stopWork: [
    { name: "stop consumers", run: () => consumer.stop() },
    { name: "stop pruning run history", run: () => pruner.stop() },
    { name: "stop firing (finish publishes, record runs, release claims)", run: () => firing.stop() },
    { name: "stop webhook deliveries (attempts in flight are handed back)", run: () => deliveries.stop() },
    { name: "stop announcing ended deliveries", run: () => deliveryEvents.stop() },
    { name: "leave the replica list", run: () => heartbeat.stop() },
  ],
  closeConnections: [
    { name: "drain NATS", run: () => bus.close() },
    { name: "close PostgreSQL pool", run: () => pool.end() },
  ],
});
