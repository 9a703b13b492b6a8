import { join } from "node:path";
import { signToken } from "@dbplane/service-kit";
import {
  type ChildService,
  createTestNats,
  createTestSchema,
  freePort,
  startChildService,
  type TestNats,
  type TestSchema,
} from "@dbplane/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { createSchedulerStore, type SchedulerStore } from "../src/store/scheduler-store.ts";

export const JWT_SECRET = "scheduler-test-secret-0123456789abcdef";
const entry = join(import.meta.dirname, "../src/main.ts");

/** A running scheduler replica. */
export interface Replica {
  readonly svc: ChildService;
  readonly base: string;
}

/**
 * One test's world: a PostgreSQL schema, a NATS namespace (the bus's streams), and a target
 * stream `<NS>_TARGET` capturing `<ns>.target.>` — the user's stream the jobs publish to.
 */
export interface SchedulerWorld {
  readonly db: TestSchema;
  readonly nats: TestNats;
  /** A store on the same schema, for setting up many jobs fast and for reading runs. */
  readonly store: SchedulerStore;
  readonly targetStream: string;
  /** A subject the target stream captures. */
  targetSubject(name: string): string;
  startReplica(env?: Record<string, string>): Promise<Replica>;
  token(): Promise<string>;
  /** Every message in the target stream: its Nats-Msg-Id and subject. */
  readTarget(): Promise<{ msgId: string; subject: string; seq: number }[]>;
  dbNow(): Promise<Date>;
  dispose(): Promise<void>;
}

/** `natsUrl`: a test's private nats-server (one it may restart) instead of the shared one. */
export async function createSchedulerWorld(natsUrl?: string): Promise<SchedulerWorld> {
  const db = await createTestSchema("sched");
  const nats = await createTestNats(natsUrl);
  const store = createSchedulerStore(db.pool, { schema: db.name });
  await store.migrate();
  const targetStream = `${nats.namespace.toUpperCase()}_TARGET`;
  const jsm = await jetstreamManager(nats.nc);
  await jsm.streams.add({
    name: targetStream,
    subjects: [`${nats.namespace}.target.>`],
    duplicate_window: nanos(120_000),
  });
  const replicas: ChildService[] = [];
  return {
    db,
    nats,
    store,
    targetStream,
    targetSubject: (name) => `${nats.namespace}.target.${name}`,
    async startReplica(env = {}) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const svc = await startChildService({
        entry,
        name: `scheduler-${replicas.length}`,
        readyUrl: `${base}/health/ready`,
        env: {
          DBPLANE_HTTP_HOST: "127.0.0.1",
          DBPLANE_HTTP_PORT: String(port),
          DBPLANE_JWT_SECRET: JWT_SECRET,
          DBPLANE_NATS_URL: nats.url,
          DBPLANE_NATS_NAMESPACE: nats.namespace,
          DBPLANE_PG_URL: db.url,
          DBPLANE_SCHEDULER_SCHEMA: db.name,
          DBPLANE_SHUTDOWN_DELAY_MS: "0",
          DBPLANE_LOG_LEVEL: "info",
          ...env,
        },
      });
      replicas.push(svc);
      return { svc, base };
    },
    token: () => signToken(JWT_SECRET, { sub: "scheduler-test" }),
    async readTarget() {
      const info = await jsm.streams.info(targetStream);
      const total = info.state.messages;
      const out: { msgId: string; subject: string; seq: number }[] = [];
      if (total === 0) return out;
      const consumer = await jetstream(nats.nc).consumers.get(targetStream);
      const messages = await consumer.consume({ max_messages: 1_000 });
      for await (const m of messages) {
        out.push({ msgId: m.headers?.get("Nats-Msg-Id") ?? "", subject: m.subject, seq: m.seq });
        if (m.seq >= info.state.last_seq) break;
      }
      await messages.close();
      return out;
    },
    async dbNow() {
      return (await db.pool.query<{ now: Date }>("SELECT now() AS now")).rows[0]!.now;
    },
    async dispose() {
      await Promise.all(replicas.map((r) => r.dispose()));
      await nats.cleanup();
      await db.drop();
    },
  };
}

/** Runs `fn` over `items` with at most `width` at once. */
export async function inParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
