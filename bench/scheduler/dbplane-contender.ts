import { join } from "node:path";
import { signToken } from "@dbplane/service-kit";
import {
  type ChildService,
  createTestNats,
  createTestSchema,
  freePort,
  startChildService,
} from "@dbplane/testkit";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { BenchJob, Contender } from "./contender.ts";

const entry = join(import.meta.dirname, "../../services/scheduler/src/main.ts");
const secret = "bench-secret-bench-secret-0123456789";

/**
 * dbplane: two scheduler replicas as child processes on their own schema and namespace, jobs
 * created through `POST /v1/jobs`, targets published to a stream the bench consumes. Fire =
 * the subscriber receives the target message (so the figure includes the JetStream hop).
 */
export async function startDbplane(): Promise<Contender> {
  const db = await createTestSchema("bench");
  const nats = await createTestNats();
  const jsm = await jetstreamManager(nats.nc);
  const stream = `${nats.namespace.toUpperCase()}_BENCH_TARGET`;
  const subject = `${nats.namespace}.bench.fired`;
  await jsm.streams.add({ name: stream, subjects: [subject], duplicate_window: nanos(120_000) });
  const replicas: { svc: ChildService; base: string }[] = [];
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const svc = await startChildService({
      entry,
      name: `scheduler-${i}`,
      readyUrl: `${base}/health/ready`,
      env: {
        DBPLANE_HTTP_HOST: "127.0.0.1",
        DBPLANE_HTTP_PORT: String(port),
        DBPLANE_JWT_SECRET: secret,
        DBPLANE_NATS_URL: nats.url,
        DBPLANE_NATS_NAMESPACE: nats.namespace,
        DBPLANE_PG_URL: db.url,
        DBPLANE_SCHEDULER_SCHEMA: db.name,
        DBPLANE_SHUTDOWN_DELAY_MS: "0",
        DBPLANE_LOG_LEVEL: "warn",
        DBPLANE_PG_POOL_SIZE: "20",
      },
    });
    replicas.push({ svc, base });
  }
  const token = await signToken(secret, { sub: "bench" });

  const first = new Map<string, number>();
  let duplicates = 0;
  const consumer = await jetstream(nats.nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 10_000 });
  void (async () => {
    for await (const m of messages) {
      const now = Date.now();
      const id = m.headers?.get("dbplane-job-id") ?? "";
      if (first.has(id)) duplicates++;
      else first.set(id, now);
    }
  })();

  return {
    name: "dbplane",
    async create(jobs: readonly BenchJob[]) {
      let next = 0;
      await Promise.all(
        Array.from({ length: 128 }, async (_, lane) => {
          const { base } = replicas[lane % replicas.length]!;
          while (next < jobs.length) {
            const job = jobs[next++]!;
            const res = await fetch(`${base}/v1/jobs`, {
              method: "POST",
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              body: JSON.stringify({
                id: job.id,
                schedule: { kind: "at", at: new Date(job.dueAt).toISOString() },
                target: { subject, payload: { id: job.id } },
              }),
            });
            if (res.status !== 201) throw new Error(`create ${job.id}: ${res.status} ${await res.text()}`);
          }
        }),
      );
    },
    fired() {
      return { first, duplicates };
    },
    async close() {
      await messages.close();
      // Duplicates that reached the stream would have been consumed above; report the stream's view too.
      const info = await jsm.streams.info(stream);
      if (info.state.messages !== first.size) {
        console.error(
          `dbplane: stream holds ${info.state.messages} messages for ${first.size} distinct jobs`,
        );
      }
      for (const r of replicas) r.svc.kill("SIGTERM");
      await Promise.all(replicas.map((r) => r.svc.exited));
      await nats.cleanup();
      await db.drop();
    },
  };
}
