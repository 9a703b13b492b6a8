// What goes wrong during an online split: a cancel before the cut-over leaves clients where they
// were; a kill -9 of the replica running it hands the split to the other replica, which resumes
// from the recorded phase and completes. The copy is held (a lock on the target's table) so the
// test acts while the split is surely in the phase it means.
import { waitFor } from "@dbplane/testkit";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Body,
  createReshardWorld,
  DB,
  type ReshardWorld,
  setUpShop,
  strayRows,
} from "./reshard-world.ts";
import { api } from "./router-world.ts";

const ROWS = 5_000;
let w: ReshardWorld;

beforeAll(async () => {
  w = await createReshardWorld(3);
  await setUpShop(w, { orders: ROWS, countries: 20 });
}, 120_000);
afterAll(() => w?.dispose());

/** Holds the initial copy into the target's `orders` until released. */
async function holdCopy(): Promise<() => Promise<void>> {
  const client: pg.PoolClient = await w.pools[2]!.connect();
  await client.query("BEGIN");
  // SHARE: the copy's COPY FROM waits, a read of the (empty) table does not.
  await client.query("LOCK TABLE orders IN SHARE MODE");
  return async () => {
    await client.query("ROLLBACK");
    client.release();
  };
}

// The HTTP API's scatter answers one row per shard: the count is their sum.
const reshardOf = (id: string) => w.call("GET", `/v1/databases/${DB}/reshards/${id}`).then((r) => r.body);

async function until(id: string, what: (r: Body) => boolean, label: string, timeoutMs = 60_000) {
  return waitFor(
    async () => {
      const r = await reshardOf(id);
      return what(r) && r;
    },
    { what: label, timeoutMs, intervalMs: 100 },
  );
}

describe("online split: cancel and crash", () => {
  it("cancelled while copying: the map is unchanged and the target holds nothing of it", async () => {
    const before = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    const release = await holdCopy();
    const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 0, toShard: 2 });
    expect(started.status).toBe(202);
    await until(started.body.id, (r) => r.phase === "copying", "the copy to start");
    const cancel = await w.call("POST", `/v1/databases/${DB}/reshards/${started.body.id}/cancel`);
    expect(cancel.status).toBe(202);
    await release();
    const ended = await until(started.body.id, (r) => r.state !== "running", "the cancel to finish");
    expect(ended.state).toBe("cancelled");
    const after = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    expect(after.version).toBe(before.version);
    for (const table of ["orders", "countries"]) {
      const n = await w.pools[2]!.query(`SELECT count(*)::int AS n FROM ${table}`);
      expect(n.rows[0].n).toBe(0);
    }
    expect((await w.pools[2]!.query("SELECT count(*)::int AS n FROM pg_subscription")).rows[0].n).toBe(0);
    expect((await w.pools[0]!.query("SELECT count(*)::int AS n FROM pg_replication_slots")).rows[0].n).toBe(
      0,
    );
    const count = await w.call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT count(*)::int AS n FROM orders",
    });
    expect(count.body.rows.reduce((sum: number, r: { n: number }) => sum + r.n, 0)).toBe(ROWS);
  }, 120_000);

  it("the replica running it is killed -9 while copying: the other one resumes it to the end", async () => {
    const release = await holdCopy();
    const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 0, toShard: 2 });
    expect(started.status).toBe(202);
    const copying = await until(
      started.body.id,
      (r) => r.phase === "copying" && r.runner !== null,
      "the copy",
    );
    const victim = w.routers.find((r) => copying.runner.split(":")[1] === String(r.pid));
    expect(victim).toBeDefined();
    await victim!.stop("SIGKILL");
    await release();
    const done = await until(started.body.id, (r) => r.state !== "running", "the split to finish", 120_000);
    expect(done).toMatchObject({ state: "completed", targetShard: 2 });
    expect(done.runner).toBeNull();
    const map = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    let total = 0;
    for (const s of map.shards) {
      expect(await strayRows(w.pools[s.shard]!, "orders", "hashint8extended(id, 0)", s.ranges)).toBe(0);
      total += (await w.pools[s.shard]!.query("SELECT count(*)::int AS n FROM orders")).rows[0].n;
    }
    expect(total).toBe(ROWS);
    const count = await w.call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT count(*)::int AS n FROM orders",
    });
    expect(count.body.rows.reduce((sum: number, r: { n: number }) => sum + r.n, 0)).toBe(ROWS);
  }, 180_000);

  it("the replica running it is killed -9 while its fence waits for another replica's acknowledgement: the other one finishes it", async () => {
    await w.startRouter(); // two replicas again: one to kill, one to finish
    // Shard 2 serves since the last test: merge it back so a split has an empty target again.
    const merged = await w.call("POST", `/v1/databases/${DB}/merges`, { shards: [0, 2] });
    expect(merged.status).toBe(202);
    expect((await until(merged.body.id, (r) => r.state !== "running", "the merge")).state).toBe("completed");

    const releaseCopy = await holdCopy();
    const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 0, toShard: 2 });
    expect(started.status).toBe(202);
    const copying = await until(
      started.body.id,
      (r) => r.phase === "copying" && r.runner !== null,
      "the copy",
    );
    const victim = w.routers.find((r) => copying.runner.split(":")[1] === String(r.pid))!;
    const other = w.routers.find((r) => r !== victim && r.alive)!;
    // The other replica stops answering: the fence of the verification waits for its
    // acknowledgement (its heartbeat is still within its lease) — the runner is surely fenced.
    process.kill(other.pid, "SIGSTOP");
    let resumed = false;
    try {
      await releaseCopy();
      const token = w.world.token();
      await waitFor(
        async () => {
          const r = await api(victim.base, token, "GET", `/v1/databases/${DB}/reshards/${started.body.id}`);
          console.log(r.status, r.body.phase, r.body.attempts, r.body.error, r.body.progress);
          return r.body.phase === "verifying";
        },
        { what: "the fenced verification", intervalMs: 50 },
      );
      await victim.stop("SIGKILL");
      process.kill(other.pid, "SIGCONT");
      resumed = true;
    } finally {
      if (!resumed) process.kill(other.pid, "SIGCONT");
    }
    const done = await until(started.body.id, (r) => r.state !== "running", "the split to finish", 120_000);
    expect(done).toMatchObject({ state: "completed", targetShard: 2 });
    const map = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    let total = 0;
    for (const s of map.shards) {
      expect(await strayRows(w.pools[s.shard]!, "orders", "hashint8extended(id, 0)", s.ranges)).toBe(0);
      total += (await w.pools[s.shard]!.query("SELECT count(*)::int AS n FROM orders")).rows[0].n;
    }
    expect(total).toBe(ROWS);
    // Writes flow again: the dead runner's fence was lifted by the one that finished.
    const write = await w.call("POST", `/v1/databases/${DB}/query`, {
      sql: "UPDATE orders SET amount = amount WHERE id = 1",
      key: { type: "bigint", value: 1 },
    });
    expect(write.status).toBe(200);
  }, 240_000);
});
