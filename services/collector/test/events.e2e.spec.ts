// Targets come and go with the provisioner's and discovery's events; a dbplane shard's primary
// produces shard.load-sampled events for the router's hot-shard detection.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Bus, connectBus } from "@dbplane/bus";
import {
  databaseDeleted,
  databaseDiscovered,
  databaseLost,
  serviceSource,
  shardReady,
  shardRemoved,
} from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import { createTestDatabase, type TestDatabase, waitFor } from "@dbplane/testkit";
import type { Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CollectorWorld, createCollectorWorld } from "./collector-world.ts";

// The test plays the provisioner and discovery: the collector accepts their events only with
// their own ce-source.
const PROVISIONER = serviceSource("provisioner");
const DISCOVERY = serviceSource("discovery");

let world: CollectorWorld;
let bus: Bus;
let shardDb: TestDatabase;
let base: string;
let sub: Subscription;
const loads: Record<string, unknown>[] = [];

const status = async (id: string) => (await fetch(`${base}/v1/targets/${encodeURIComponent(id)}`)).status;
const healthOf = async (id: string) => {
  const res = await fetch(`${base}/v1/targets/${encodeURIComponent(id)}`);
  return res.ok ? ((await res.json()) as { health: { state: string } | null }).health?.state : undefined;
};

beforeAll(async () => {
  shardDb = await createTestDatabase("collshard");
  world = await createCollectorWorld({ DBPLANE_COLLECTOR_INTERVAL_MS: "500" });
  bus = await connectBus({
    servers: world.nats.url,
    name: "collector-test",
    logger: createLogger({ name: "collector-test", level: "silent" }),
    namespace: world.nats.namespace,
  });
  await bus.ensureTopology();
  sub = world.nats.nc.subscribe(`${world.nats.namespace}.dbplane.evt.collector.shard.load-sampled`);
  void (async () => {
    for await (const msg of sub) loads.push(msg.json());
  })();
  base = (await world.startReplica()).base;
});

afterAll(async () => {
  sub?.unsubscribe();
  await bus?.close();
  await world?.dispose();
  await shardDb?.drop();
});

describe("targets from events", () => {
  it("collects a provisioned shard (password from its file reference) and reports its load", async () => {
    const passwordFile = join(world.dir, "shard-password");
    // The local server trusts local connections; the file proves the reference is followed.
    await writeFile(passwordFile, "not-a-real-password\n", { mode: 0o600 });
    await bus.publish(
      shardReady,
      {
        database: "shop",
        shard: 0,
        primary: { host: "127.0.0.1", port: 5432 },
        replicas: [],
        dbname: shardDb.name,
        user: "postgres",
        passwordRef: { kind: "file", path: passwordFile },
      },
      { subject: "database/shop/shard/0", source: PROVISIONER },
    );
    const id = "shard:shop:0:127.0.0.1:5432";
    await waitFor(async () => (await healthOf(id)) === "up", { what: "the shard's primary to be up" });
    const load = await waitFor(() => loads.find((l) => l.database === "shop"), {
      what: "a shard.load-sampled event",
    });
    expect(load).toMatchObject({ database: "shop", shard: 0, windowSeconds: expect.any(Number) });
    expect(load.transactionsPerSecond).toBeGreaterThanOrEqual(0);
    expect(load.sizeBytes).toBeGreaterThan(0);
    expect(load.longestQuerySeconds).toBeGreaterThanOrEqual(0);
    expect(load.locksWaiting).toBe(0);

    // A second shard, then removed (a cancelled split's): its target goes, the first stays.
    await bus.publish(
      shardReady,
      {
        database: "shop",
        shard: 1,
        primary: { host: "127.0.0.1", port: 5432 },
        replicas: [],
        dbname: shardDb.name,
        user: "postgres",
        passwordRef: { kind: "file", path: passwordFile },
      },
      { subject: "database/shop/shard/1", source: PROVISIONER },
    );
    const second = "shard:shop:1:127.0.0.1:5432";
    await waitFor(async () => (await status(second)) === 200, { what: "the second shard's target" });
    await bus.publish(
      shardRemoved,
      { database: "shop", shard: 1, version: 3 },
      { subject: "database/shop/shard/1", source: PROVISIONER },
    );
    await waitFor(async () => (await status(second)) === 404, { what: "the removed shard's target to go" });
    expect(await status(id)).toBe(200);

    await bus.publish(
      databaseDeleted,
      { name: "shop", volumesKept: false },
      { subject: "database/shop", source: PROVISIONER },
    );
    await waitFor(async () => (await status(id)) === 404, { what: "the deleted database's target to go" });
  });

  it("adds a discovered database and removes it when lost", async () => {
    const id = `local:127.0.0.1:5432/${shardDb.name}`;
    await bus.publish(
      databaseDiscovered,
      {
        id,
        driver: "local",
        engine: "postgresql",
        endpoint: { host: "127.0.0.1", port: 5432 },
        dbname: shardDb.name,
        observedAt: new Date().toISOString(),
      },
      { subject: id, source: DISCOVERY },
    );
    await waitFor(async () => (await healthOf(id)) === "up", { what: "the discovered database to be up" });
    await bus.publish(
      databaseLost,
      { id, observedAt: new Date().toISOString() },
      { subject: id, source: DISCOVERY },
    );
    await waitFor(async () => (await status(id)) === 404, { what: "the lost database's target to go" });
  });

  it("leaves the group on SIGTERM: lease released, membership gone, exit 0", async () => {
    const [first] = world.replicas;
    const second = await world.startReplica();
    expect(await first!.stop("SIGTERM")).toBe(0);
    const group = await waitFor(
      async () => {
        const g = (await (await fetch(`${second.base}/v1/members`)).json()) as {
          leader: string;
          members: { id: string }[];
        };
        return g.leader === second.memberId ? g : undefined;
      },
      { what: "the remaining member to lead" },
    );
    expect(group.members.map((m) => m.id)).toEqual([second.memberId]);
    base = second.base;
  });
});
