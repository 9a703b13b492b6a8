import { join } from "node:path";
import { type Bus, busNames, connectBus } from "@dbplane/bus";
import { projectionTables } from "@dbplane/projections";
import { createLogger, signToken } from "@dbplane/service-kit";
import {
  type ChildService,
  createTestNats,
  createTestSchema,
  freePort,
  startChildService,
  type TestNats,
  type TestSchema,
} from "@dbplane/testkit";
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { TALLY_TYPE } from "./fixtures/tally-projection.ts";

export const JWT_SECRET = "projection-test-secret-0123456789abcdef";
const entry = join(import.meta.dirname, "../src/main.ts");
const tallyModule = join(import.meta.dirname, "fixtures/tally-projection.ts");

export interface Replica {
  readonly svc: ChildService;
  readonly base: string;
  readonly memberId: string;
}

export interface UnitRow {
  readonly partition: number;
  readonly generation: number;
  readonly owner: string | null;
  readonly checkpoint: number;
}

/** One test's world: a NATS namespace with the bus streams and a PostgreSQL schema per coordinator group. */
export interface CoordinatorWorld {
  readonly nats: TestNats;
  /** A bus on the world's namespace, for publishing contract events. */
  readonly bus: Bus;
  readonly db: TestSchema;
  /** Starts a replica; `schema` picks the coordinator group (default: the world's schema). */
  startReplica(options?: { env?: Record<string, string>; schema?: string; name?: string }): Promise<Replica>;
  /** Publishes `count` tally events over `aggregates` aggregates; returns the last stream sequence. */
  publishTally(
    count: number,
    options?: { aggregates?: number; offset?: number; poison?: (i: number) => boolean },
  ): Promise<number>;
  units(schema?: string, projection?: string): Promise<UnitRow[]>;
  /** Resolves when every unit of `projection` is owned and checkpointed at `seq` or later. */
  caughtUp(seq: number, schema?: string, projection?: string): Promise<boolean>;
  tallyTable(name: string, schema?: string): Promise<string>;
  token(): Promise<string>;
  newSchema(): Promise<string>;
  dispose(): Promise<void>;
}

/** `natsUrl`: a private server (a test that restarts NATS); default the shared one. */
export async function createCoordinatorWorld(options: { natsUrl?: string } = {}): Promise<CoordinatorWorld> {
  const nats = await createTestNats(options.natsUrl);
  const db = await createTestSchema("proj");
  const extraSchemas: TestSchema[] = [];
  const bus = await connectBus({
    servers: nats.url,
    name: "test",
    logger: createLogger({ name: "test", level: "silent" }),
    namespace: nats.namespace,
  });
  await bus.ensureTopology();
  const js = jetstream(nats.nc);
  const subject = busNames(nats.namespace).subject("dbplane.evt.test.tally.incremented");
  const replicas: ChildService[] = [];
  let published = 0;
  let started = 0;

  const world: CoordinatorWorld = {
    nats,
    bus,
    db,
    async startReplica(options = {}) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const memberId = `${options.name ?? "replica"}-${started++}`;
      const svc = await startChildService({
        entry,
        name: memberId,
        readyUrl: `${base}/health/ready`,
        env: {
          DBPLANE_HTTP_HOST: "127.0.0.1",
          DBPLANE_HTTP_PORT: String(port),
          DBPLANE_JWT_SECRET: JWT_SECRET,
          DBPLANE_NATS_URL: nats.url,
          DBPLANE_NATS_NAMESPACE: nats.namespace,
          DBPLANE_PG_URL: db.url,
          DBPLANE_PROJECTION_SCHEMA: options.schema ?? db.name,
          DBPLANE_PROJECTIONS: "tally",
          DBPLANE_PROJECTION_MODULES: tallyModule,
          DBPLANE_PROJECTION_MEMBER_ID: memberId,
          DBPLANE_PROJECTION_HEARTBEAT_MS: "200",
          DBPLANE_PROJECTION_MEMBER_TTL_MS: "5000",
          DBPLANE_PROJECTION_RETIRED_TTL_MS: "600000",
          DBPLANE_SHUTDOWN_DELAY_MS: "0",
          DBPLANE_LOG_LEVEL: "warn",
          ...options.env,
        },
      });
      replicas.push(svc);
      return { svc, base, memberId };
    },
    async publishTally(count, options = {}) {
      const aggregates = options.aggregates ?? 1_000;
      const offset = options.offset ?? published;
      published = offset + count;
      let last = 0;
      const WINDOW = 10_000;
      for (let start = 0; start < count; start += WINDOW) {
        const acks = [];
        for (let i = start; i < Math.min(count, start + WINDOW); i++) {
          const n = offset + i;
          const h = headers();
          h.set("ce-id", `tally-${nats.namespace}-${n}`);
          h.set("ce-type", TALLY_TYPE);
          h.set("ce-source", "test");
          h.set("ce-subject", `agg-${n % aggregates}`);
          h.set("ce-time", new Date().toISOString());
          h.set("ce-specversion", "1.0");
          const data = JSON.stringify({ n, ...(options.poison?.(n) && { poison: true }) });
          acks.push(js.publish(subject, data, { headers: h, msgID: `tally-${nats.namespace}-${n}` }));
        }
        for (const ack of await Promise.all(acks)) last = Math.max(last, ack.seq);
      }
      return last;
    },
    async units(schema = db.name, projection = "tally") {
      const { rows } = await db.pool.query<UnitRow>(
        `SELECT u.partition, u.generation, u.owner, u.checkpoint::float8 AS checkpoint
         FROM "${schema}".units u JOIN "${schema}".generations g USING (projection, generation)
         WHERE u.projection = $1 AND g.state = 'active' ORDER BY u.partition`,
        [projection],
      );
      return rows;
    },
    async caughtUp(seq, schema = db.name, projection = "tally") {
      const units = await world.units(schema, projection);
      return units.length > 0 && units.every((u) => u.owner !== null && u.checkpoint >= seq);
    },
    async tallyTable(name, schema = db.name) {
      const { rows } = await db.pool.query<{ generation: number }>(
        `SELECT generation FROM "${schema}".generations WHERE projection = 'tally' AND state = 'active'`,
      );
      return projectionTables(schema, "tally", rows[0]!.generation).table(name);
    },
    token: () => signToken(JWT_SECRET, { sub: "projection-test" }),
    async newSchema() {
      const s = await createTestSchema("proj");
      extraSchemas.push(s);
      return s.name;
    },
    async dispose() {
      await Promise.all(replicas.map((r) => r.dispose()));
      await bus.close();
      await nats.cleanup();
      await Promise.all([db, ...extraSchemas].map((s) => s.drop()));
    },
  };
  return world;
}
