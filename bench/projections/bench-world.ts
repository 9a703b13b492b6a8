// The bench's world: a NATS namespace with the bus streams, a PostgreSQL schema per scenario,
// projection-coordinator replicas as child processes running the tally test projection (whose
// `applied` table logs the commit time of every event per partition).
import { join } from "node:path";
import { connectBus } from "@dbplane/bus";
import { serviceSource } from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import {
  type ChildService,
  createTestNats,
  createTestSchema,
  freePort,
  startChildService,
  type TestSchema,
} from "@dbplane/testkit";
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";

// BENCH_CHECKOUT: another checkout's service (and tally fixture) under this bench, for A/B runs.
const service = join(
  process.env.BENCH_CHECKOUT ?? join(import.meta.dirname, "../.."),
  "services/projection-coordinator",
);
const TALLY_TYPE = "io.dbplane.test.tally.incremented.v1";
// Publishes awaited at once. 10,000 timed out (nats.js's 5 s per ack) on a loaded machine before
// the throughput scenario's replica had started; the figures are taken after publishing.
const PUBLISH_IN_FLIGHT = 2_000;

export async function createBenchWorld() {
  const nats = await createTestNats();
  const bus = await connectBus({
    servers: nats.url,
    name: "bench",
    logger: createLogger({ name: "bench", level: "silent" }),
    namespace: nats.namespace,
  });
  await bus.ensureTopology();
  const js = jetstream(nats.nc);
  const schemas: TestSchema[] = [];
  const replicas: ChildService[] = [];
  const names = new Map<ChildService, string>();
  let published = 0;
  let started = 0;
  return {
    async schema(): Promise<TestSchema> {
      const s = await createTestSchema("bench");
      schemas.push(s);
      return s;
    },
    async startReplica(schema: TestSchema, heartbeatMs: number) {
      const port = await freePort();
      const memberId = `bench-${started++}`;
      const svc = await startChildService({
        entry: join(service, "src/main.ts"),
        name: memberId,
        readyUrl: `http://127.0.0.1:${port}/health/ready`,
        // testkit's 30 s was not enough at load 20 (runs of 10:19 and 10:36 lost a scenario).
        readyTimeoutMs: 120_000,
        env: {
          DBPLANE_HTTP_HOST: "127.0.0.1",
          DBPLANE_HTTP_PORT: String(port),
          DBPLANE_JWT_SECRET: "bench-projections-secret-0123456789abcdef",
          DBPLANE_NATS_URL: nats.url,
          DBPLANE_NATS_NAMESPACE: nats.namespace,
          DBPLANE_PG_URL: schema.url,
          DBPLANE_PROJECTION_SCHEMA: schema.name,
          DBPLANE_PROJECTIONS: "tally",
          DBPLANE_PROJECTION_MODULES: join(service, "test/fixtures/tally-projection.ts"),
          DBPLANE_PROJECTION_MEMBER_ID: memberId,
          DBPLANE_PROJECTION_HEARTBEAT_MS: String(heartbeatMs),
          DBPLANE_PROJECTION_MEMBER_TTL_MS: String(heartbeatMs * 10),
          DBPLANE_SHUTDOWN_DELAY_MS: "0",
          // info: the joiner's "projection runtime joining" line (its read-ahead), printed per join.
          DBPLANE_LOG_LEVEL: process.env.BENCH_TRACE ? "debug" : "info",
          // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each replica, written when it exits.
          ...(process.env.BENCH_CPU_PROF
            ? {
                NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_CPU_PROF} --cpu-prof-name=${memberId}.cpuprofile`,
              }
            : {}),
        },
      });
      replicas.push(svc);
      names.set(svc, memberId);
      return { svc, memberId, base: `http://127.0.0.1:${port}` };
    },
    /** Publishes `count` tally events over 1,000 aggregates; returns the last stream sequence. */
    async publish(count: number): Promise<number> {
      let last = 0;
      for (let start = 0; start < count; start += PUBLISH_IN_FLIGHT) {
        const acks = [];
        for (let i = start; i < Math.min(count, start + PUBLISH_IN_FLIGHT); i++) {
          const n = published++;
          const h = headers();
          h.set("ce-id", `bench-${n}`);
          h.set("ce-type", TALLY_TYPE);
          h.set("ce-source", serviceSource("collector"));
          h.set("ce-subject", `agg-${n % 1_000}`);
          h.set("ce-time", new Date().toISOString());
          h.set("ce-specversion", "1.0");
          acks.push(
            js.publish(`${nats.namespace}.dbplane.evt.collector.tally.incremented`, JSON.stringify({ n }), {
              headers: h,
            }),
          );
        }
        for (const ack of await Promise.all(acks)) last = Math.max(last, ack.seq);
      }
      return last;
    },
    /**
     * BENCH_TRACE=1: the replicas' hand-over steps (the runtime's debug lines) about `partition`, or
     * about no unit (notifications, views), between `from` and `to`, in time order.
     */
    trace(partition: number, from: Date, to: Date): string[] {
      const lines: { at: string; text: string }[] = [];
      for (const svc of replicas) {
        for (const l of svc.logs()) {
          const at = String(l.time ?? "");
          const unit = l.unit as { partition?: number } | undefined;
          if (l.level !== 20 || at < from.toISOString() || at > to.toISOString()) continue;
          if (unit && unit.partition !== partition) continue;
          const extra = Object.entries(l)
            .filter(
              ([k]) => !["level", "time", "pid", "hostname", "name", "msg", "unit", "service"].includes(k),
            )
            .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
            .join(" ");
          lines.push({ at, text: `${at.slice(11)} ${names.get(svc)} ${l.msg} ${extra}` });
        }
      }
      return lines.sort((a, b) => a.at.localeCompare(b.at)).map((l) => l.text);
    },
    /** The first log line of the replica `memberId` whose message is `msg`, if any. */
    logLine(memberId: string, msg: string): Record<string, unknown> | undefined {
      const svc = replicas.find((r) => names.get(r) === memberId);
      return svc?.logs().find((l) => l.msg === msg);
    },
    /** What a stuck hand-over prints: each replica's last `n` lines at `minLevel` (20 debug) or above. */
    recentLogs(n: number, minLevel: number): string[] {
      return replicas.flatMap((svc) =>
        svc
          .logs()
          .filter((l) => Number(l.level) >= minLevel)
          .slice(-n)
          .map((l) => {
            const { time, msg, level, pid, hostname, name, service, ...rest } = l;
            return `${String(time).slice(11)} ${names.get(svc)} ${level} ${msg} ${JSON.stringify(rest)}`;
          }),
      );
    },
    async close() {
      await Promise.all(replicas.map((r) => r.dispose()));
      await bus.close();
      await nats.cleanup();
      await Promise.all(schemas.map((s) => s.drop()));
    },
  };
}

export type BenchWorld = Awaited<ReturnType<typeof createBenchWorld>>;
