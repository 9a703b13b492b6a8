// Load counted across router replicas in Redis, the hot-shard event, Prometheus metrics, and
// migrations reaching a shard that joins the database later.
import { type Bus, type BusConsumer, connectBus, handle } from "@dbplane/bus";
import { type ShardHot, shardHot, shardMapPublished } from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import { hashShardKey, RangeLookup, rangesFromText } from "@dbplane/sharding";
import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "busy";
let world: RouterWorld;
let routers: string[];
let consumer: BusConsumer;
let events: Bus;
const hot: ShardHot[] = [];
const published: { database: string; version: number }[] = [];
let lookup: RangeLookup;

const FAST_LOAD = {
  DBPLANE_ROUTER_LOAD_WINDOW_S: "60",
  DBPLANE_ROUTER_LOAD_FLUSH_MS: "100",
  DBPLANE_ROUTER_HOT_CHECK_MS: "200",
  DBPLANE_ROUTER_HOT_MULTIPLE: "2",
  DBPLANE_ROUTER_HOT_MIN_RATE: "0.5",
  DBPLANE_ROUTER_HOT_SUSTAIN_MS: "600",
};

function keyOn(shard: number, from = 1): number {
  for (let k = from; ; k++) if (lookup.shardFor(hashShardKey("bigint", k)) === shard) return k;
}

beforeAll(async () => {
  world = await createRouterWorld(4);
  events = await connectBus({
    servers: world.nats.url,
    name: "router-test-events",
    logger: createLogger({ name: "t", level: "silent" }),
    namespace: world.nats.namespace,
  });
  await events.ensureTopology();
  consumer = await events.consume({
    durable: "router-test-events",
    handlers: [
      handle(shardHot, (event) => void hot.push(event.data)),
      handle(shardMapPublished, (event) => void published.push(event.data)),
    ],
  });
  routers = [
    (await world.startReplica({ env: FAST_LOAD })).base,
    (await world.startReplica({ env: FAST_LOAD })).base,
  ];
  // Three shards first; the fourth joins later.
  await world.announce(DB, { count: 3 });
  const map = await waitForMap(routers[0]!, world.token(), DB);
  lookup = new RangeLookup(
    rangesFromText(
      map.shards.flatMap((s: { shard: number; ranges: { from: string; to: string }[] }) =>
        s.ranges.map((r) => ({ shard: s.shard, ...r })),
      ),
    ),
  );
  await waitForMap(routers[1]!, world.token(), DB);
});
afterAll(async () => {
  await consumer?.stop();
  await events?.close();
  await world?.dispose();
});

describe("load across replicas", () => {
  it("counts every replica's queries per shard in one Redis window and reports the hot shard once", async () => {
    const hotKey = keyOn(0);
    let sent = 0;
    // Shard 0 gets all the traffic, through both routers, until the event arrives.
    await waitFor(
      async () => {
        await Promise.all(
          routers.map((url) =>
            api(url, world.token(), "POST", `/v1/databases/${DB}/query`, {
              sql: "SELECT 1 AS one",
              key: { type: "bigint", value: hotKey },
            }),
          ),
        );
        sent += 2;
        return hot.length > 0;
      },
      { timeoutMs: 20_000, intervalMs: 5, what: "shard.hot" },
    );
    expect(hot[0]).toMatchObject({ database: DB, shard: 0, windowSeconds: 60 });
    expect(hot[0]!.rate).toBeGreaterThan(hot[0]!.medianRate * 2);

    // Every query of both replicas is in the shared window (rate × window = count).
    const view = await waitFor(
      async () => {
        const res = await api(routers[1]!, world.token(), "GET", `/v1/databases/${DB}/shards`);
        const load = res.body.shards[0].load;
        return load && Math.round(load.queryRate * load.windowSeconds) >= sent ? res.body : undefined;
      },
      { timeoutMs: 5_000, what: `window to hold ${sent} queries` },
    );
    expect(Math.round(view.shards[0].load.queryRate * 60)).toBe(sent);
    expect(view.shards[1].load?.queryRate ?? 0).toBe(0);
    const keys = await world.redis.redis.keys(`${world.redis.prefix}load:${DB}:0:*`);
    expect(keys.length).toBeGreaterThan(0);

    // One claim in Redis: the other replica, seeing the same heat, does not report it again.
    const claims = await world.redis.redis.keys(`${world.redis.prefix}hot:${DB}:0`);
    expect(claims).toHaveLength(1);
    expect(hot.filter((h) => h.shard === 0)).toHaveLength(1);

    const metrics = await (await fetch(`${routers[0]}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`dbplane_router_queries_total\\{database="${DB}",shard="0",outcome="ok"\\} \\d+`),
    );
    expect(metrics).toMatch(
      new RegExp(`dbplane_router_shard_query_rate\\{database="${DB}",shard="0"\\} [0-9.]+`),
    );
    expect(metrics).toContain(`dbplane_router_shard_map_version{database="${DB}"} 1`);
  });
});

describe("migrations and joining shards", () => {
  it("a shard that joins in a new map version gets every recorded migration", async () => {
    const first = await api(routers[0]!, world.token(), "POST", `/v1/databases/${DB}/migrations`, {
      id: "001-accounts",
      statements: ["CREATE TABLE accounts (id bigint PRIMARY KEY)", "CREATE INDEX ON accounts (id)"],
    });
    expect(first.body.shards.map((s: { status: string }) => s.status)).toEqual([
      "applied",
      "applied",
      "applied",
    ]);
    const second = await api(routers[1]!, world.token(), "POST", `/v1/databases/${DB}/migrations`, {
      id: "002-balance",
      statements: ["ALTER TABLE accounts ADD COLUMN balance numeric NOT NULL DEFAULT 0"],
    });
    expect(second.body.complete).toBe(true);
    const joining = world.shards[3]!.pool;
    expect((await joining.query("SELECT to_regclass('accounts') AS t")).rows[0].t).toBeNull();

    // The provisioner reports the database again with a fourth shard (e.g. after add-shard).
    await world.announce(DB, { count: 4, version: 2 });
    const v2 = await waitForMap(routers[0]!, world.token(), DB, 2);
    expect(v2.shards).toHaveLength(4);
    expect(v2.shards[3].ranges).toEqual([]);
    const applied = await waitFor(async () => {
      const res = await joining.query("SELECT id FROM dbplane_migrations ORDER BY id").catch(() => undefined);
      return res && res.rows.length === 2 ? res.rows.map((r) => r.id) : undefined;
    });
    expect(applied).toEqual(["001-accounts", "002-balance"]);
    const cols = await joining.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts' ORDER BY 1",
    );
    expect(cols.rows.map((r) => r.column_name)).toEqual(["balance", "id"]);
    // Both replicas caught the new shard up; the lock and the record made it happen once.
    expect((await joining.query("SELECT count(*)::int AS n FROM dbplane_migrations")).rows[0].n).toBe(2);

    await waitFor(() => published.some((p) => p.database === DB && p.version === 2));
    expect(published.filter((p) => p.database === DB).map((p) => p.version)).toEqual([1, 2]);
  });

  it("a redelivered database.ready changes nothing", async () => {
    await world.announce(DB, { count: 4, version: 2 });
    await world.announce(DB, { count: 4, version: 2 });
    // A marker that must arrive after the redeliveries were handled: a new database.
    await world.announce("marker", { count: 1 });
    await waitForMap(routers[0]!, world.token(), "marker");
    const view = await api(routers[0]!, world.token(), "GET", `/v1/databases/${DB}/shards`);
    expect(view.body.version).toBe(2);
  });
});
