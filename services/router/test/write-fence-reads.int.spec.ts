// A fence raised with `reads` (a reshard's cut-over) holds reads of its shard as well, against a
// NATS server of the test's own; a write-only fence never holds a read.
import { uniqueName, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KvFenceCoordinator } from "../src/fence/fence-coordinator.ts";
import type { WriteFence } from "../src/fence/write-fence.ts";
import { type FenceWorld, follows, startFenceWorld, watch } from "./fence-world.ts";

let world: FenceWorld | undefined;
let coordinator: KvFenceCoordinator;
let fence: WriteFence;

beforeAll(async () => {
  world = await startFenceWorld();
  ({ coordinator, fence } = world);
});
afterAll(() => world?.stop());

describe("write fence with reads", () => {
  it("a fence raised with reads holds reads of its shard (not of others) until its map is applied; a write-only fence never holds a read", async () => {
    const db = uniqueName("reads");
    await coordinator.raise({ database: db, shard: 0, id: "w-only", timeoutMs: 5_000 });
    await waitFor(() => follows(fence, "w-only", "raised"), { what: "the write-only fence" });
    expect(fence.holdsRead(db, 1, [0])).toBe(false);
    expect(fence.admitNow(db, { mapVersion: 1, shards: [0], read: true })).toBeDefined();
    await coordinator.lift({ database: db, id: "w-only" });

    await coordinator.raise({ database: db, shard: 0, id: "cut", timeoutMs: 5_000, reads: true });
    await waitFor(() => follows(fence, "cut", "raised"), { what: "the reads fence" });
    expect(fence.holdsRead(db, 1, [0])).toBe(true);
    expect(fence.holdsRead(db, 1, [1])).toBe(false);
    let version = 1;
    const held = watch(fence.admit(db, () => ({ mapVersion: version, shards: [0], read: true })));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(held.settled).toBe(false);
    await coordinator.lift({ database: db, id: "cut", mapVersion: 2 });
    await waitFor(() => follows(fence, "cut", "lifted"), { what: "the lift" });
    expect(fence.holdsRead(db, 1, [0])).toBe(true); // planned by the old map: still held
    version = 2;
    fence.mapsChanged();
    await waitFor(() => held.settled, { what: "the read, once its map is the new one" });
    expect(held.error).toBeUndefined();
    expect(fence.holdsRead(db, 2, [0])).toBe(false);
    await coordinator.forget(db);
  });
});
