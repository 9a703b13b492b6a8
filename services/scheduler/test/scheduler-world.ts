import { join } from "node:path";
import { createTestSchema, type ServiceWorld, serviceWorld, type TestSchema } from "@dbplane/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { createSchedulerStore, type SchedulerStore } from "../src/store/scheduler-store.ts";

/**
 * A scheduler's world: its PostgreSQL schema and a target stream `<NS>_TARGET` capturing
 * `<ns>.target.>` — the user's stream the jobs publish to.
 */
export interface SchedulerWorld extends ServiceWorld {
  readonly db: TestSchema;
  /** A store on the same schema, for setting up many jobs fast and for reading runs. */
  readonly store: SchedulerStore;
  readonly targetStream: string;
  /** A subject the target stream captures. */
  targetSubject(name: string): string;
  /** Every message in the target stream: its Nats-Msg-Id and subject. */
  readTarget(): Promise<{ msgId: string; subject: string; seq: number }[]>;
  dbNow(): Promise<Date>;
}

/** `natsUrl`: a test's private nats-server (one it may restart) instead of the shared one. */
export async function createSchedulerWorld(natsUrl?: string): Promise<SchedulerWorld> {
  const db = await createTestSchema("sched");
  const store = createSchedulerStore(db.pool, { schema: db.name });
  await store.migrate();
  const world = await serviceWorld({
    entry: join(import.meta.dirname, "../src/main.ts"),
    name: "scheduler",
    jwtSecret: "scheduler-test-secret-0123456789abcdef",
    natsUrl,
    env: { DBPLANE_PG_URL: db.url, DBPLANE_SCHEDULER_SCHEMA: db.name, DBPLANE_LOG_LEVEL: "info" },
  });
  world.defer(() => db.drop());
  const { namespace, nc } = world.nats;
  const targetStream = `${namespace.toUpperCase()}_TARGET`;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: targetStream,
    subjects: [`${namespace}.target.>`],
    duplicate_window: nanos(120_000),
  });
  return {
    ...world,
    db,
    store,
    targetStream,
    targetSubject: (name) => `${namespace}.target.${name}`,
    async readTarget() {
      const info = await jsm.streams.info(targetStream);
      const out: { msgId: string; subject: string; seq: number }[] = [];
      if (info.state.messages === 0) return out;
      const messages = await (await jetstream(nc).consumers.get(targetStream)).consume({
        max_messages: 1_000,
      });
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
