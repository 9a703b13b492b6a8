// Composition root of the scheduler: config, connections, firing, consumers, HTTP, shutdown.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { connectBus } from "@dbplane/bus";
import { cancelJob, scheduleJob } from "@dbplane/contracts";
import { createHttpApp, createLogger, runService } from "@dbplane/service-kit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import pg from "pg";
import { schedulerApp } from "./app.ts";
import { loadSchedulerConfig } from "./config.ts";
import { FiringEvents } from "./firing/firing-events.ts";
import { createFiringLoop } from "./firing/firing-loop.ts";
import { cancelJobHandler } from "./handlers/cancel-job.ts";
import { scheduleJobHandler } from "./handlers/schedule-job.ts";
import { createJobAdmin } from "./jobs/job-admin.ts";
import { createTargetCheck } from "./jobs/target-check.ts";
import { createSchedulerMetrics } from "./scheduler-metrics.ts";
import { createSchedulerStore } from "./store/scheduler-store.ts";

const NAME = "scheduler";
const config = loadSchedulerConfig();
const logger = createLogger({ name: NAME, level: config.DBPLANE_LOG_LEVEL });
const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

const pool = new pg.Pool({
  connectionString: config.DBPLANE_PG_URL,
  max: config.DBPLANE_PG_POOL_SIZE,
  application_name: `dbplane-${NAME}`,
});
pool.on("error", (err) => logger.warn({ err }, "idle PostgreSQL connection failed"));
const store = createSchedulerStore(pool, { schema: config.DBPLANE_SCHEDULER_SCHEMA });
await store.migrate();

const app = await createHttpApp({
  name: NAME,
  version: "0.1.0",
  logger,
  jwtSecret: config.DBPLANE_JWT_SECRET,
});
const metrics = createSchedulerMetrics(app.metricsRegistry, store);
const bus = await connectBus({
  servers: config.DBPLANE_NATS_URL,
  name: NAME,
  logger,
  namespace: config.DBPLANE_NATS_NAMESPACE,
  streamReplicas: config.DBPLANE_STREAM_REPLICAS,
  registry: app.metricsRegistry,
});
await bus.ensureTopology();
app.addReadinessCheck("postgres", async () => {
  await pool.query("SELECT 1");
});
app.addReadinessCheck("nats", async () => {
  if (!bus.isConnected()) throw new Error("NATS disconnected");
});

const firing = createFiringLoop({
  store,
  js: jetstream(bus.nc),
  events: new FiringEvents(bus, logger),
  owner,
  tickMs: config.DBPLANE_SCHEDULER_TICK_MS,
  horizonMs: config.DBPLANE_SCHEDULER_HORIZON_MS,
  leaseMs: config.DBPLANE_SCHEDULER_LEASE_MS,
  claimLimit: config.DBPLANE_SCHEDULER_CLAIM_LIMIT,
  publishConcurrency: config.DBPLANE_SCHEDULER_PUBLISH_CONCURRENCY,
  metrics,
  logger,
});
const jobs = createJobAdmin({
  store,
  checkTarget: createTargetCheck(
    await jetstreamManager(bus.nc, { checkAPI: false }),
    config.DBPLANE_SCHEDULER_LEASE_MS + config.DBPLANE_SCHEDULER_TICK_MS,
  ),
  forget: (jobId) => firing.forget(jobId),
});
const onScheduleJob = scheduleJobHandler(jobs, logger);
const onCancelJob = cancelJobHandler(jobs, logger);
const consumer = await bus.consume({
  durable: NAME,
  messages: [scheduleJob, cancelJob],
  handler: (event, ctx) =>
    // The consumer dispatches by ce-type; `type` is a plain string, so narrow by hand.
    event.type === scheduleJob.type ? onScheduleJob(event as never, ctx) : onCancelJob(event as never, ctx),
});
await app.register(schedulerApp, { jobs, store });
firing.start();

await runService({
  name: NAME,
  logger,
  app,
  host: config.DBPLANE_HTTP_HOST,
  port: config.DBPLANE_HTTP_PORT,
  shutdownDelayMs: config.DBPLANE_SHUTDOWN_DELAY_MS,
  shutdownTimeoutMs: config.DBPLANE_SHUTDOWN_TIMEOUT_MS,
  stopWork: [
    { name: "stop consumers", run: () => consumer.stop() },
    { name: "stop firing (finish publishes, record runs, release claims)", run: () => firing.stop() },
  ],
  closeConnections: [
    { name: "drain NATS", run: () => bus.close() },
    { name: "close PostgreSQL pool", run: () => pool.end() },
  ],
});
