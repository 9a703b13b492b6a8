// The write fence's replica side and coordinator against a NATS server of the test's own (it is
// stopped once): acknowledgement waits for writes in flight, a starting replica reads raised
// fences before it admits a write, a lift for a map version gates writes planned by an older
// map, a heartbeat older than its lease is not waited for, and a replica that cannot renew its
// heartbeat stops admitting writes by itself until it can again.
import type { PrivateNatsServer } from "@dbplane/testkit";
import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KvFenceCoordinator } from "../src/fence/fence-coordinator.ts";
import { type FenceBuckets, replicaKey } from "../src/fence/fence-documents.ts";
import { FenceTimeoutError } from "../src/fence/fence-errors.ts";
import { noFenceMetrics } from "../src/fence/fence-metrics.ts";
import { WriteFence } from "../src/fence/write-fence.ts";
import { type FenceWorld, follows, fenceLogger as logger, startFenceWorld, watch } from "./fence-world.ts";

let world: FenceWorld | undefined;
let nats: PrivateNatsServer;
let buckets: FenceBuckets;
let coordinator: KvFenceCoordinator;
let fence: WriteFence;
const replicaFence = (replica: string) => world!.replicaFence(replica);

beforeAll(async () => {
  world = await startFenceWorld();
  ({ nats, buckets, coordinator, fence } = world);
});
afterAll(() => world?.stop());

describe("write fence", () => {
  it("acknowledges once the writes in flight ended; a late replica reads the fence first; a lift gates older maps until the database is forgotten", async () => {
    const inFlight = fence.admitNow("db", { mapVersion: 1, shards: [0] });
    expect(inFlight).toBeDefined();
    const raise = watch(coordinator.raise({ database: "db", shard: 0, id: "f1", timeoutMs: 20_000 }));
    await waitFor(() => follows(fence, "f1", "raised"));
    expect(fence.admitNow("db", { mapVersion: 1, shards: [0] })).toBeUndefined();
    const other = fence.admitNow("db", { mapVersion: 1, shards: [1] });
    expect(other).toBeDefined();
    other!();
    expect(raise.settled).toBe(false);
    inFlight!();
    await waitFor(() => raise.settled);
    expect(raise.value?.replicas).toEqual(["r1"]);

    const late = replicaFence("r2");
    await late.start();
    try {
      expect(late.admitting).toBe(true);
      expect(late.admitNow("db", { mapVersion: 1, shards: [0] })).toBeUndefined();
      await coordinator.lift({ database: "db", id: "f1", mapVersion: 2 });
      await waitFor(() => follows(late, "f1", "lifted") && follows(fence, "f1", "lifted"));
      expect(late.admitNow("db", { mapVersion: 1, shards: [0] })).toBeUndefined();
      expect(late.admitNow("db", { mapVersion: 2, shards: [0] })).toBeDefined();
    } finally {
      await late.stop();
    }
    // The database deleted: its fences go, so one created again under its name starts free.
    expect(await coordinator.forget("db")).toBe(1);
    await waitFor(() => fence.known().length === 0);
    expect(fence.admitNow("db", { mapVersion: 1, shards: [0] })).toBeDefined();
  });

  it("waits for a replica within its lease, not for one whose heartbeat is older", async () => {
    await buckets.replicas.put("ghost", { replica: "ghost", host: "nowhere", pid: 1, leaseMs: 60_000 });
    await expect(
      coordinator.raise({ database: "db", shard: 1, id: "f2", timeoutMs: 300 }),
    ).rejects.toMatchObject({ name: FenceTimeoutError.name, replicas: ["ghost"] });
    expect((await buckets.fences.get("db.f2"))?.value.state).toBe("lifted");

    await buckets.replicas.put("ghost", { replica: "ghost", host: "nowhere", pid: 1, leaseMs: 100 });
    const ghostAt = (await buckets.replicas.get("ghost"))!.created.getTime();
    // By the server's clock, r1 renews after the ghost's lease is over.
    await waitFor(
      async () => (await buckets.replicas.get(replicaKey("r1")))!.created.getTime() > ghostAt + 100,
    );
    const raised = await coordinator.raise({ database: "db", shard: 1, id: "f3", timeoutMs: 10_000 });
    expect(raised.replicas).toEqual(["r1"]);
    await coordinator.lift({ database: "db", id: "f3" });
    await buckets.replicas.delete("ghost");
  });

  it("a write held for a lifted fence's map version has the map read directly (a lagging watch does not hold it until maxHold)", async () => {
    let local = 4;
    const asked: string[] = [];
    const r3: WriteFence = new WriteFence({
      buckets,
      replica: "r3",
      heartbeatMs: 100,
      leaseMs: 1_000,
      maxHoldMs: 30_000,
      metrics: noFenceMetrics,
      logger,
      // What the router's registry does: read the map, install it, tell the fence.
      catchUpMap: (database) => {
        asked.push(database);
        local = 5;
        r3.mapsChanged();
      },
    });
    await r3.start();
    try {
      await coordinator.raise({ database: "db2", shard: 0, id: "f4", timeoutMs: 10_000 });
      await coordinator.lift({ database: "db2", id: "f4", mapVersion: 5 });
      await waitFor(() => follows(r3, "f4", "lifted"));
      // Nothing else wakes the held write: only its own request for the map does.
      const release = await r3.admit("db2", () => ({ mapVersion: local, shards: [0] }));
      release();
      expect(asked).toEqual(["db2"]);
      expect(local).toBe(5);
    } finally {
      await r3.stop();
      await coordinator.forget("db2");
    }
  });

  it("a replica that cannot renew its heartbeat holds writes by itself until it renews it", async () => {
    await waitFor(() => fence.admitNow("db", { mapVersion: 1, shards: [1] }) !== undefined);
    await nats.stop();
    let restarted = false;
    try {
      await waitFor(() => !fence.admitting);
      expect(fence.admitNow("db", { mapVersion: 1, shards: [1] })).toBeUndefined();
      const held = watch(fence.admit("db", () => ({ mapVersion: 1, shards: [1] })));
      expect(held.settled).toBe(false);
      await nats.start();
      restarted = true;
      await waitFor(() => held.settled, { timeoutMs: 20_000 });
      expect(held.error).toBeUndefined();
      held.value!();
      expect(fence.admitting).toBe(true);
    } finally {
      if (!restarted) await nats.start();
    }
  });
});
