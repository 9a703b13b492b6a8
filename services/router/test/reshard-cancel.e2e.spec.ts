// A split that had the provisioner add its target shard, cancelled before the cut-over: the
// subscription, slot and publication go, then the router sends remove-shard for the shard it
// added (and only that one), and shard.removed takes it out of the map — the database is as it
// was for clients. A split that fails for good before its cut-over gives its shard back too. The provisioner is played on the bus here, as reshard-world plays its
// database.ready; its side of remove-shard (refusals, the dropped cluster) is tested in
// services/provisioner/test/remove-shard.e2e.spec.ts.
import { type BusConsumer, handle } from "@dbplane/bus";
import { addShard, type RemoveShard, removeShard, shardRemoved } from "@dbplane/contracts";
import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Body,
  createReshardWorld,
  DB,
  holdCopyInto,
  type ReshardWorld,
  routedCount,
  setUpShop,
} from "./reshard-world.ts";
import { api } from "./router-world.ts";

const ROWS = 3_000;
let w: ReshardWorld;
let provisioner: BusConsumer;
const added: string[] = [];
const removed: RemoveShard[] = [];
/** Set: the provisioner refuses add-shard (as its quota does: dead-lettered, nothing announced). */
let refuseAddShard = false;
const refused: string[] = [];
// Long enough for an answered add-shard on a loaded machine, short enough to wait out once.
const ADD_SHARD_TIMEOUT_MS = 15_000;

beforeAll(async () => {
  w = await createReshardWorld(3, {
    env: { DBPLANE_ROUTER_RESHARD_ADD_SHARD_TIMEOUT_MS: String(ADD_SHARD_TIMEOUT_MS) },
  });
  await setUpShop(w, { orders: ROWS, countries: 10 }, { announceSpare: false });
  // The provisioner: add-shard makes shard 2 (server 2) ready; remove-shard drops it again.
  provisioner = await w.world.bus.consume({
    durable: "provisioner",
    handlers: [
      handle(addShard, async (event) => {
        if (refuseAddShard) {
          refused.push(event.id);
          return;
        }
        added.push(event.id);
        await w.announce(3);
      }),
      handle(removeShard, async (event) => {
        removed.push(event.data);
        const version = 2 * removed.length + 1; // each add and each remove is a new version
        await w.world.bus.publish(
          shardRemoved,
          { database: DB, shard: event.data.shard, version },
          {
            subject: `database/${DB}/shard/${event.data.shard}`,
            id: `${DB}:${event.data.shard}:v${version}:removed`,
          },
        );
        await w.announce(2);
      }),
    ],
  });
}, 120_000);
afterAll(async () => {
  await provisioner?.stop();
  await w?.dispose();
});

const reshardOf = (id: string) => w.call("GET", `/v1/databases/${DB}/reshards/${id}`).then((r) => r.body);

async function until(id: string, what: (r: Body) => boolean, label: string) {
  return waitFor(
    async () => {
      const r = await reshardOf(id);
      return what(r) && r;
    },
    { what: label, timeoutMs: 90_000, intervalMs: 100 },
  );
}

describe("cancel of a split that added a shard", () => {
  it("removes the added shard: it leaves the map and the provisioner is asked to drop it; clients see what they saw", async () => {
    const before = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    expect(before.shards.map((s: { shard: number }) => s.shard)).toEqual([0, 1]);
    const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 0 });
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    // Held in the copy: the new shard's `orders` is locked once the shard has joined with it.
    const release = await holdCopyInto(w.pools[2]!);
    try {
      const copying = await until(id, (r) => r.phase === "copying", "the copy to start");
      expect(copying).toMatchObject({ targetShard: 2, addedShard: 2 });
      expect(added).toEqual([`${id}:add-shard`]);
      const cancel = await w.call("POST", `/v1/databases/${DB}/reshards/${id}/cancel`);
      expect(cancel.status).toBe(202);
    } finally {
      await release();
    }
    const ended = await until(id, (r) => r.state !== "running", "the cancel to finish");
    expect(ended).toMatchObject({ state: "cancelled", addedShard: 2 });
    // The replication objects went first; then the shard itself.
    expect((await w.pools[2]!.query("SELECT count(*)::int AS n FROM pg_subscription")).rows[0].n).toBe(0);
    expect((await w.pools[0]!.query("SELECT count(*)::int AS n FROM pg_replication_slots")).rows[0].n).toBe(
      0,
    );
    expect((await w.pools[0]!.query("SELECT count(*)::int AS n FROM pg_publication")).rows[0].n).toBe(0);
    await waitFor(() => removed.length > 0, { what: "remove-shard", timeoutMs: 30_000 });
    expect(removed).toEqual([{ name: DB, shard: 2 }]);
    const token = w.world.token();
    for (const r of w.routers) {
      await waitFor(
        async () => (await api(r.base, token, "GET", `/v1/databases/${DB}/shards`)).body.shards.length === 2,
        { what: `the map without shard 2 at ${r.base}` },
      );
    }
    const after = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    expect(after.version).toBeGreaterThan(before.version);
    expect(after.shards.map((s: { shard: number; ranges: unknown }) => [s.shard, s.ranges])).toEqual(
      before.shards.map((s: { shard: number; ranges: unknown }) => [s.shard, s.ranges]),
    );
    // Clients: every row where it was, reads and writes by key as before.
    expect(await routedCount(w)).toBe(ROWS);
    for (const key of [1, 2, 3, 4]) {
      const write = await w.call("POST", `/v1/databases/${DB}/query`, {
        sql: "UPDATE orders SET amount = amount + 1 WHERE id = $1",
        params: [key],
        key: { type: "bigint", value: key },
      });
      expect(write.status).toBe(200);
      expect(write.body.rowCount).toBe(1);
    }
    // Nothing asked twice: one add, one remove.
    expect(added).toHaveLength(1);
    expect(removed).toHaveLength(1);
  }, 180_000);
  it("a split that fails for good before its cut-over gives the shard it added back too", async () => {
    // A table without a primary key cannot be moved: the split fails once it copies.
    const migration = await w.call("POST", `/v1/databases/${DB}/migrations`, {
      id: "002-notes",
      statements: ["CREATE TABLE notes (body text)"],
    });
    expect(migration.status).toBe(200);
    const version = (await w.call("GET", `/v1/databases/${DB}/shards`)).body.version;
    const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 1 });
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    const ended = await until(id, (r) => r.state !== "running", "the split to fail");
    expect(ended).toMatchObject({ state: "failed", addedShard: 2 });
    expect(ended.error).toMatch(/primary key/i);
    expect(added).toEqual([expect.stringMatching(/:add-shard$/), `${id}:add-shard`]);
    await waitFor(() => removed.length === 2, { what: "the second remove-shard", timeoutMs: 30_000 });
    expect(removed[1]).toEqual({ name: DB, shard: 2 });
    const map = await waitFor(
      async () => {
        const m = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
        return m.version > version && m.shards.length === 2 && m;
      },
      { what: "the map without shard 2 again" },
    );
    expect(map.shards.map((s: { shard: number }) => s.shard)).toEqual([0, 1]);
    expect(await routedCount(w)).toBe(ROWS);
  }, 180_000);

  it("a split whose add-shard the provisioner refuses fails after the add-shard timeout, saying why", async () => {
    refuseAddShard = true;
    const version = (await w.call("GET", `/v1/databases/${DB}/shards`)).body.version;
    const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 0 });
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    const ended = await until(id, (r) => r.state !== "running", "the split to give up on its shard");
    expect(ended).toMatchObject({ state: "failed", phase: "provisioning", addedShard: 2 });
    expect(ended.error).toContain("the provisioner added no shard within 15 s of add-shard");
    expect(refused).toEqual([`${id}:add-shard`]);
    // The shard it would have added is given back (the provisioner ignores one it never made).
    await waitFor(() => removed.length === 3, { what: "the third remove-shard", timeoutMs: 30_000 });
    expect(removed[2]).toEqual({ name: DB, shard: 2 });
    const map = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    expect(map.shards.map((s: { shard: number }) => s.shard)).toEqual([0, 1]);
    expect(map.version).toBeGreaterThanOrEqual(version);
    expect(await routedCount(w)).toBe(ROWS);
  }, 180_000);
});
