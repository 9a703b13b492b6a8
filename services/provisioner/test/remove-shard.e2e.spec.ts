// remove-shard on real local clusters: refused (400/409 over HTTP, the DLQ with the reason over
// NATS) for a shard that is not the last, is the only one, or owns a range in the newest shard
// map the router published — or when no map was ever published; the last shard that owns none
// is dropped (servers stopped, directory gone) and `shard.removed` announces it.
import { join } from "node:path";
import { type Bus, connectBus, DLQ_HEADERS } from "@dbplane/bus";
import { removeShard, shardMapPublished } from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import { httpClient, waitFor } from "@dbplane/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createProvisionerWorld,
  isDirectory,
  type ProvisionerWorld,
  postmastersUnder,
} from "./provisioner-world.ts";

const DB = "ledger";
const HALF = "0";
let world: ProvisionerWorld;
let api: ReturnType<typeof httpClient>;
let bus: Bus;
let mapVersion = 0;

beforeAll(async () => {
  world = await createProvisionerWorld();
  const replica = await world.startReplica();
  api = httpClient(replica.base, world.token());
  bus = await connectBus({
    servers: world.nats.url,
    name: "router",
    logger: createLogger({ name: "router", level: "silent" }),
    namespace: world.nats.namespace,
  });
}, 60_000);
afterAll(async () => {
  await bus?.close();
  await world?.dispose();
}, 120_000);

const settled = (id: string) =>
  waitFor(
    async () => {
      const r = await api.call("GET", `/v1/operations/${id}`);
      return r.status === 200 && r.body.state !== "pending" && r.body;
    },
    { timeoutMs: 90_000, intervalMs: 200, what: `operation ${id}` },
  );

/** Publishes the next map as the router would: shards 0 and 1 own the two halves of the keyspace. */
async function publishMap(): Promise<void> {
  mapVersion++;
  await bus.publish(
    shardMapPublished,
    {
      database: DB,
      version: mapVersion,
      ranges: [
        { shard: 0, from: "-9223372036854775808", to: HALF },
        { shard: 1, from: HALF, to: "9223372036854775808" },
      ],
    },
    { subject: DB, id: `${DB}:shard-map:${mapVersion}` },
  );
}

const shardDir = (shard: number) => join(world.dataDir, "clusters", DB, `shard-${shard}`);

describe("remove-shard", () => {
  it("is refused while no shard map of the database was ever published", async () => {
    const created = await api.call("POST", "/v1/databases", {
      name: DB,
      shards: 2,
      postgresVersion: 15,
      storage: { size: "1Gi" },
    });
    expect(created.status).toBe(202);
    expect((await settled(created.body.operationId)).state).toBe("succeeded");
    const res = await api.call("DELETE", `/v1/databases/${DB}/shards/1`);
    expect(res.status).toBe(409);
    expect(res.body.detail).toContain("no shard map");
  }, 120_000);

  it("refuses a shard that is not the last, the only one, or one that owns a range", async () => {
    await publishMap();
    const notLast = await api.call("DELETE", `/v1/databases/${DB}/shards/0`);
    expect(notLast.status).toBe(400);
    expect(notLast.body.detail).toContain("only the last shard");
    const missing = await api.call("DELETE", `/v1/databases/${DB}/shards/7`);
    expect(missing.status).toBe(400);
    expect(missing.body.detail).toContain("has no shard 7");
    expect((await api.call("DELETE", `/v1/databases/${DB}/shards/x`)).status).toBe(400);
    expect((await api.call("DELETE", "/v1/databases/nope/shards/1")).status).toBe(404);
    const owning = await waitFor(
      async () => {
        const r = await api.call("DELETE", `/v1/databases/${DB}/shards/1`);
        return r.status === 409 && r.body.detail.includes("owns a range") && r;
      },
      { what: "the map to be seen" },
    );
    expect(owning.body.detail).toContain(`shard map version ${mapVersion}`);
    const db = (await api.call("GET", `/v1/databases/${DB}`)).body;
    expect(db).toMatchObject({ state: "ready", version: 1 });
    expect(db.shards).toHaveLength(2);
  }, 60_000);

  it("dead-letters a remove-shard command it refuses, with the reason", async () => {
    await bus.publish(removeShard, { name: DB, shard: 1 }, { subject: DB, id: "remove-owning-shard" });
    const jsm = await jetstreamManager(world.nats.nc);
    const dlq = `${world.nats.namespace.toUpperCase()}_DBPLANE_DLQ`;
    const letter = await waitFor(
      async () => {
        const info = await jsm.streams.info(dlq).catch(() => undefined);
        return info && info.state.messages > 0 && jsm.streams.getMessage(dlq, { seq: info.state.last_seq });
      },
      { what: "the dead letter" },
    );
    expect(letter?.header.get(DLQ_HEADERS.error)).toContain("owns a range");
    expect((await api.call("GET", "/v1/operations/remove-owning-shard")).status).toBe(404);
  }, 60_000);

  it("drops the last shard when it owns no range: servers stopped, directory gone, shard.removed", async () => {
    const added = await api.call("POST", `/v1/databases/${DB}/shards`, { count: 1 });
    expect(added.status).toBe(202);
    expect((await settled(added.body.operationId)).state).toBe("succeeded");
    expect(await isDirectory(shardDir(2))).toBe(true);
    expect(postmastersUnder(shardDir(2))).toHaveLength(1);
    // The router's map after the add: shard 2 listed, owning nothing.
    await publishMap();
    await bus.publish(removeShard, { name: DB, shard: 2 }, { subject: DB, id: "remove-2" });
    const op = await settled("remove-2");
    expect(op).toMatchObject({ state: "succeeded", kind: "remove-shard" });
    expect(postmastersUnder(shardDir(2))).toEqual([]);
    expect(await isDirectory(shardDir(2))).toBe(false);
    const db = (await api.call("GET", `/v1/databases/${DB}`)).body;
    expect(db).toMatchObject({ state: "ready", version: 3 });
    expect(db.shards.map((s: { shard: number }) => s.shard)).toEqual([0, 1]);
    const events = await world.events("dbplane.evt.provisioner.");
    const removed = events.find((e) => e.type.endsWith("shard.removed.v1"));
    expect(removed).toMatchObject({
      subject: `database/${DB}/shard/2`,
      correlationId: "remove-2",
      data: { database: DB, shard: 2, version: 3 },
    });
    const ready = events.filter((e) => e.type.endsWith("database.ready.v1") && e.data.version === 3);
    expect(ready).toHaveLength(1);
    expect((ready[0]!.data.shards as unknown[]).length).toBe(2);
    // The same command again (a redelivery) changes nothing.
    await bus.publish(removeShard, { name: DB, shard: 2 }, { subject: DB, id: "remove-2" });
    expect((await api.call("GET", `/v1/databases/${DB}`)).body.version).toBe(3);
  }, 120_000);

  it("adds a shard under the freed index again, empty and new", async () => {
    const added = await api.call("POST", `/v1/databases/${DB}/shards`, { count: 1 });
    expect((await settled(added.body.operationId)).state).toBe("succeeded");
    const db = (await api.call("GET", `/v1/databases/${DB}`)).body;
    expect(db.shards.map((s: { state: string }) => s.state)).toEqual(["ready", "ready", "ready"]);
    expect(postmastersUnder(shardDir(2))).toHaveLength(1);
  }, 120_000);
});
