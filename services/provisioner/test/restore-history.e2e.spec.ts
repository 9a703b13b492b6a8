import { readFile } from "node:fs/promises";
import { type Bus, connectBus } from "@dbplane/bus";
import { shardMapPublished } from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import { type HttpClient, httpClient, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionerWorld, operationSucceeded, type ProvisionerWorld } from "./provisioner-world.ts";

// Real PostgreSQL 15 clusters from the local driver (2 shards) whose shard map the router changed
// (published here as the router would): restores get the map of their moment, also after the
// database was deleted, from the backups it left behind.
let world: ProvisionerWorld;
let api: HttpClient;

const name = "orders";
const KEYS = 400;

beforeAll(async () => {
  world = await createProvisionerWorld();
  const replica = await world.startReplica();
  api = httpClient(replica.base, world.token());
}, 90_000);
afterAll(() => world?.dispose(), 180_000);

type Range = { shard: number; from: string; to: string };
const END = "9223372036854775808";
const START = "-9223372036854775808";

const succeeded = (operationId: string) => operationSucceeded(api, operationId);

/** Connections to each shard's primary of a database, as the provisioner reports them. */
async function shardClients(db: string): Promise<pg.Client[]> {
  const { body } = await api.call("GET", `/v1/databases/${db}`);
  const shards = body.shards as { primary: { port: number }; passwordRef: { path: string } }[];
  return Promise.all(
    shards.map(async (s) => {
      const client = new pg.Client({
        host: "127.0.0.1",
        port: s.primary.port,
        user: "dbplane",
        password: (await readFile(s.passwordRef.path, "utf8")).trim(),
        database: db,
        ssl: { rejectUnauthorized: false },
      });
      await client.connect();
      return client;
    }),
  );
}

/** The keys (1 … KEYS) a range owns, by PostgreSQL's own hash of a bigint key. */
const ownedKeys = (c: pg.Client, r: Range) =>
  c
    .query(
      `SELECT g AS id FROM generate_series(1, ${KEYS}) g
       WHERE hashint8extended(g::bigint, 0) >= $1::numeric AND hashint8extended(g::bigint, 0) < $2::numeric ORDER BY g`,
      [r.from, r.to],
    )
    .then((res) => res.rows.map((row) => Number(row.id)));

/** Per shard of `db`, its rows' keys; and whether each row lies in a range its shard owns. */
async function rowsByShard(db: string, ranges: readonly Range[]) {
  const clients = await shardClients(db);
  try {
    const out: { keys: number[]; misplaced: number }[] = [];
    for (const [shard, c] of clients.entries()) {
      const own = ranges.filter((r) => r.shard === shard);
      const keys = (await c.query("SELECT id FROM items ORDER BY id")).rows.map((r) => Number(r.id));
      const owned = new Set((await Promise.all(own.map((r) => ownedKeys(c, r)))).flat());
      out.push({ keys, misplaced: keys.filter((k) => !owned.has(k)).length });
    }
    return out;
  } finally {
    for (const c of clients) await c.end();
  }
}

describe("restore of a resharded, then deleted database (local driver)", () => {
  const v1: Range[] = [
    { shard: 0, from: START, to: "0" },
    { shard: 1, from: "0", to: END },
  ];
  // As a split's cut-over and clean-up leave a map: the boundary moved, the rows with it.
  const v2: Range[] = [
    { shard: 0, from: START, to: "-4611686018427387904" },
    { shard: 1, from: "-4611686018427387904", to: END },
  ];
  const v3: Range[] = [
    { shard: 0, from: START, to: "4611686018427387904" },
    { shard: 1, from: "4611686018427387904", to: END },
  ];
  let clients: pg.Client[] = [];
  let router: Bus;
  let v3madeAt = new Date();
  beforeAll(async () => {
    router = await connectBus({
      servers: world.nats.url,
      name: "router",
      logger: createLogger({ name: "router", level: "silent" }),
      namespace: world.nats.namespace,
    });
  });
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => {});
    await router?.close();
  });

  /** The router's map version `version` published, and seen by the provisioner. */
  const publishMap = async (version: number, ranges: Range[], createdAt = new Date()) => {
    await router.publish(
      shardMapPublished,
      { database: name, version, ranges, createdAt: createdAt.toISOString() },
      { subject: name, id: `${name}:map:${version}` },
    );
    await waitFor(
      async () => (await api.call("GET", `/v1/databases/${name}`)).body.shardMap?.version === version,
      { timeoutMs: 20_000, what: `the provisioner to see map version ${version}` },
    );
  };
  /** Puts every key on the shard `ranges` gives it (as a split's copy and clean-up leave them). */
  const place = async (ranges: readonly Range[]) => {
    for (const [shard, c] of clients.entries()) {
      await c.query("BEGIN");
      await c.query("DELETE FROM items");
      for (const r of ranges.filter((x) => x.shard === shard)) {
        for (const id of await ownedKeys(c, r))
          await c.query("INSERT INTO items VALUES ($1, $2)", [id, shard]);
      }
      await c.query("COMMIT");
    }
  };
  const backup = async (backupId: string) => {
    const res = await api.call("POST", `/v1/databases/${name}/backups`, { backupId });
    expect(res.status).toBe(202);
    await succeeded(res.body.operationId);
  };
  /** Restores `body` into `into`; returns the ranges its database.ready gave the router. */
  const restore = async (body: Record<string, string>, into: string) => {
    const res = await api.call("POST", `/v1/databases/${name}/restores`, { ...body, into });
    expect(res.status).toBe(202);
    await succeeded(res.body.operationId);
    const ready = await waitFor(async () =>
      (await world.events()).find((e) => e.type.endsWith("database.ready.v1") && e.data.name === into),
    );
    return ready.data.ranges as Range[] | undefined;
  };

  it("restores a backup with the shard map in force at its moment, every row on the shard that owns it", async () => {
    const created = await api.call("POST", "/v1/databases", {
      name,
      shards: 2,
      postgresVersion: 15,
      resources: { memory: "128Mi" },
      backup: { schedule: { cron: "0 0 1 1 *" }, retain: { count: 10 } },
    });
    expect(created.status).toBe(202);
    await succeeded(created.body.operationId);
    await publishMap(1, v1);
    clients = await shardClients(name);
    for (const c of clients) await c.query("CREATE TABLE items (id bigint PRIMARY KEY, shard int)");
    await place(v1);
    await backup("b1");
    await publishMap(2, v2);
    await place(v2);
    await backup("b2");
    // Version 3 is made (inside the cut-over's fence) and routed by at once; its event comes late.
    v3madeAt = new Date();
    await place(v3);

    expect(await restore({ backupId: "b2" }, "orders-b2")).toEqual(v2);
    const b2 = await rowsByShard("orders-b2", v2);
    expect(b2.map((s) => s.misplaced)).toEqual([0, 0]);
    expect(b2[0]!.keys.length + b2[1]!.keys.length).toBe(KEYS);
    expect(await restore({ backupId: "b1" }, "orders-b1")).toEqual(v1);
    expect((await rowsByShard("orders-b1", v1)).map((s) => s.misplaced)).toEqual([0, 0]);
  }, 600_000);

  it("keeps what a restore needs when the database is deleted, and restores from its backups", async () => {
    // A row after the last backup: a point in time later than it reaches it through the archived WAL.
    const key = (await ownedKeys(clients[1]!, v3[1]!))[0]!;
    await clients[1]!.query("UPDATE items SET shard = 11 WHERE id = $1", [key]);
    const pointInTime = (
      (await clients[1]!.query("SELECT clock_timestamp() AS t")).rows[0].t as Date
    ).toISOString();
    for (const c of clients) await c.end();
    clients = [];
    // Published after the moment restored to: in force from when it was made, not from the event.
    await publishMap(3, v3, v3madeAt);

    const deleted = await api.call("DELETE", `/v1/databases/${name}`);
    expect(deleted.status).toBe(202);
    await succeeded(deleted.body.operationId);
    expect((await api.call("GET", `/v1/databases/${name}`)).status).toBe(404);
    // Its backups are still listed, the window ending at the delete.
    const kept = await api.call("GET", `/v1/databases/${name}/backups`);
    expect(kept.status).toBe(200);
    expect(kept.body.items.map((b: { backupId: string }) => b.backupId)).toEqual(["b1", "b1", "b2", "b2"]);
    const latest = Date.parse(kept.body.window.latest);
    expect(latest).toBeGreaterThan(Date.parse(pointInTime));

    const late = await api.call("POST", `/v1/databases/${name}/restores`, {
      pointInTime: new Date(latest + 1_000).toISOString(),
      into: "orders-late",
    });
    expect(late.status).toBe(400);
    expect(JSON.stringify(late.body)).toContain("after the database was deleted");

    // From b2 and the WAL after it, to a moment under map version 3.
    expect(await restore({ pointInTime }, "orders-back")).toEqual(v3);
    const restored = await rowsByShard("orders-back", v3);
    expect(restored.map((s) => s.misplaced)).toEqual([0, 0]);
    expect(restored[0]!.keys.length + restored[1]!.keys.length).toBe(KEYS);
    const back = await shardClients("orders-back");
    try {
      expect((await back[1]!.query("SELECT shard FROM items WHERE id = $1", [key])).rows).toEqual([
        { shard: 11 },
      ]);
    } finally {
      for (const c of back) await c.end();
    }
  }, 600_000);
});
