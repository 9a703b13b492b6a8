import { join } from "node:path";
import { type Bus, busNames, connectBus, type PublishAck, type PublishOptions } from "@dbplane/bus";
import {
  type MessageDefinition,
  type MessageInput,
  type ServiceName,
  serviceSource,
} from "@dbplane/contracts";
import { projectionTables } from "@dbplane/projections";
import { createLogger } from "@dbplane/service-kit";
import {
  createTestSchema,
  type ServiceReplica,
  type ServiceWorld,
  serviceWorld,
  type TestSchema,
} from "@dbplane/testkit";
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { afterEach, beforeEach } from "vitest";
import { TALLY_SERVICE, TALLY_TYPE } from "./fixtures/tally-projection.ts";

const tallyModule = join(import.meta.dirname, "fixtures/tally-projection.ts");

export interface UnitRow {
  readonly partition: number;
  readonly generation: number;
  readonly owner: string | null;
  readonly checkpoint: number;
}

/** A replica's member id is its name: `projection-coordinator-<n>`, or `<name>-<n>` when started with a name. */
export type Replica = ServiceReplica & { readonly memberId: string };

/** A coordinator's world: a bus on its namespace and a PostgreSQL schema per coordinator group. */
export interface CoordinatorWorld extends ServiceWorld<{ readonly memberId: string }> {
  /**
   * Publishes a contract message as the service that owns it (a bus named after it, so its
   * `ce-source` is `dbplane/<service>` as the projections check).
   */
  publish<D extends MessageDefinition>(
    def: D,
    data: MessageInput<D>,
    options: PublishOptions,
  ): Promise<PublishAck>;
  /** The default group's schema; a replica joins another with `env: { DBPLANE_PROJECTION_SCHEMA }`. */
  readonly db: TestSchema;
  /** Publishes `count` tally events over `aggregates` aggregates; returns the last stream sequence. */
  publishTally(
    count: number,
    options?: {
      aggregates?: number;
      offset?: number;
      poison?: (i: number) => boolean;
      /** The `ce-source` of event `n`; default the collector's, whose subject the tally events use. */
      source?: (n: number) => string;
    },
  ): Promise<number>;
  units(schema?: string, projection?: string): Promise<UnitRow[]>;
  /** Resolves when every unit of `projection` is owned and checkpointed at `seq` or later. */
  caughtUp(seq: number, schema?: string, projection?: string): Promise<boolean>;
  tallyTable(name: string, schema?: string): Promise<string>;
  newSchema(): Promise<string>;
}

/** `natsUrl`: a private server (a test that restarts NATS); default the shared one. */
/**
 * Gives each test of the enclosing describe block a fresh world through `assign`, disposed after
 * the test — the one setup every coordinator spec shares.
 */
export function eachTestWorld(assign: (world: CoordinatorWorld) => void): void {
  let current: CoordinatorWorld | undefined;
  beforeEach(async () => {
    current = await createCoordinatorWorld();
    assign(current);
  });
  afterEach(async () => {
    await current?.dispose();
    current = undefined;
  });
}

export async function createCoordinatorWorld(options: { natsUrl?: string } = {}): Promise<CoordinatorWorld> {
  const db = await createTestSchema("proj");
  const world = await serviceWorld({
    entry: join(import.meta.dirname, "../src/main.ts"),
    name: "projection-coordinator",
    jwtSecret: "projection-test-secret-0123456789abcdef",
    natsUrl: options.natsUrl,
    env: ({ name }) => ({
      DBPLANE_PG_URL: db.url,
      DBPLANE_PROJECTION_SCHEMA: db.name,
      DBPLANE_PROJECTIONS: "tally",
      DBPLANE_PROJECTION_MODULES: tallyModule,
      DBPLANE_PROJECTION_MEMBER_ID: name,
      DBPLANE_PROJECTION_HEARTBEAT_MS: "200",
      DBPLANE_PROJECTION_MEMBER_TTL_MS: "5000",
      DBPLANE_PROJECTION_RETIRED_TTL_MS: "600000",
      DBPLANE_LOG_LEVEL: "warn",
    }),
    extend: ({ name }) => ({ memberId: name }),
  });
  world.defer(() => db.drop());
  const { nats } = world;
  const buses = new Map<ServiceName, Promise<Bus>>();
  const busOf = (service: ServiceName) => {
    let bus = buses.get(service);
    if (!bus) {
      bus = connectBus({
        servers: nats.url,
        name: service,
        logger: createLogger({ name: service, level: "silent" }),
        namespace: nats.namespace,
      }).then(async (b) => {
        world.defer(() => b.close());
        await b.ensureTopology();
        return b;
      });
      buses.set(service, bus);
    }
    return bus;
  };
  await busOf(TALLY_SERVICE);
  const js = jetstream(nats.nc);
  const subject = busNames(nats.namespace).subject(`dbplane.evt.${TALLY_SERVICE}.tally.incremented`);
  let published = 0;

  const coordinatorWorld: CoordinatorWorld = {
    ...world,
    publish: async (def, data, options) => (await busOf(def.service)).publish(def, data, options),
    db,
    async publishTally(count, options = {}) {
      const aggregates = options.aggregates ?? 1_000;
      const offset = options.offset ?? published;
      published = offset + count;
      let last = 0;
      // Acks awaited at once. nats.js gives each 5 s: 3,000 at once timed out under load (the
      // NATS restart test's first publish, beside two replicas starting and busy loops).
      const WINDOW = 1_000;
      for (let start = 0; start < count; start += WINDOW) {
        const acks = [];
        for (let i = start; i < Math.min(count, start + WINDOW); i++) {
          const n = offset + i;
          const h = headers();
          h.set("ce-id", `tally-${nats.namespace}-${n}`);
          h.set("ce-type", TALLY_TYPE);
          h.set("ce-source", options.source?.(n) ?? serviceSource(TALLY_SERVICE));
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
      const units = await coordinatorWorld.units(schema, projection);
      return units.length > 0 && units.every((u) => u.owner !== null && u.checkpoint >= seq);
    },
    async tallyTable(name, schema = db.name) {
      const { rows } = await db.pool.query<{ generation: number }>(
        `SELECT generation FROM "${schema}".generations WHERE projection = 'tally' AND state = 'active'`,
      );
      return projectionTables(schema, "tally", rows[0]!.generation).table(name);
    },
    async newSchema() {
      const extra = await createTestSchema("proj");
      world.defer(() => extra.drop());
      return extra.name;
    },
  };
  return coordinatorWorld;
}
