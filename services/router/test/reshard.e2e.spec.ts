// Online split under a live writer, across two router replicas, on private PostgreSQL servers
// (wal_level=logical). Shard 0 of a 2-shard database is split onto shard 2, which joined the map
// owning nothing: afterwards every row is on the shard owning its hash, the rows are exactly what
// the writer committed (nothing lost, duplicated or resurrected), and the writer saw no error.
import { strayRows, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Body, createReshardWorld, DB, type ReshardWorld, setUpShop } from "./reshard-world.ts";

const ROWS = 20_000;
const ACCOUNTS = 5_000;
let w: ReshardWorld;

beforeAll(async () => {
  w = await createReshardWorld(3);
  await setUpShop(w, { orders: ROWS, accounts: ACCOUNTS, countries: 50 });
}, 120_000);
afterAll(() => w?.dispose());

/** Keyed writes through both router replicas; the model holds what was committed. */
function startWriter() {
  const model = new Map<number, number>();
  for (let id = 1; id <= ROWS; id++) model.set(id, id % 1000);
  const errors: string[] = [];
  // One writer per key at a time: the model's order is the database's.
  const busy = new Set<number>();
  let stop = false;
  let next = ROWS + 1;
  let ops = 0;
  const token = w.world.token();
  const workers = Array.from({ length: 4 }, async (_, worker) => {
    const base = w.routers[worker % w.routers.length]!.base;
    while (!stop) {
      const roll = Math.random();
      let sql: string;
      let params: unknown[];
      let id: number;
      let apply: () => void;
      if (roll < 0.4) {
        id = next++;
        sql = "INSERT INTO orders (id, amount) VALUES ($1, $2)";
        params = [id, 7];
        apply = () => model.set(id, 7);
      } else {
        id = 1 + Math.floor(Math.random() * (next - 1));
        if (!model.has(id) || busy.has(id)) continue;
        if (roll < 0.8) {
          const amount = Math.floor(Math.random() * 100_000);
          sql = "UPDATE orders SET amount = $2 WHERE id = $1";
          params = [id, amount];
          apply = () => model.set(id, amount);
        } else {
          sql = "DELETE FROM orders WHERE id = $1";
          params = [id];
          apply = () => model.delete(id);
        }
      }
      busy.add(id);
      const res = await fetch(`${base}/v1/databases/${DB}/query`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ sql, params, key: { type: "bigint", value: id } }),
      });
      busy.delete(id);
      if (res.status === 200) apply();
      else errors.push(`${res.status} ${await res.text()}`);
      ops++;
    }
  });
  return {
    model,
    errors,
    ops: () => ops,
    async stop() {
      stop = true;
      await Promise.all(workers);
    },
  };
}

describe("online split under a live writer", () => {
  let writer: ReturnType<typeof startWriter>;
  let reshard: Body;
  let map: Body;

  it("splits shard 0 onto the empty shard 2 at the median of its rows, through every phase", async () => {
    writer = startWriter();
    await waitFor(() => writer.ops() > 50, { what: "the writer going" });
    const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 0 });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ sourceShard: 0, state: "running", phase: "provisioning" });
    // Counted through the router all along (accounts are not written): the target fills while
    // the source owns the rows, then the source holds them hidden until they are deleted — no
    // count may see a row twice or miss one.
    const counts = new Set<number>();
    reshard = await waitFor(
      async () => {
        counts.add(await routedCount("accounts"));
        const res = await w.call("GET", `/v1/databases/${DB}/reshards/${started.body.id}`);
        if (res.body.state === "failed") throw new Error(`reshard failed: ${res.body.error}`);
        return res.body.state === "completed" && res.body;
      },
      { what: "the split to complete", timeoutMs: 120_000, intervalMs: 20 },
    );
    counts.add(await routedCount("accounts"));
    expect(counts).toEqual(new Set([ACCOUNTS]));
    const ops = writer.ops();
    await waitFor(() => writer.ops() > ops + 50, { what: "the writer going on after the cut-over" });
    await writer.stop();
    expect(reshard).toMatchObject({ targetShard: 2, mapVersion: expect.any(Number) });
    expect(reshard.verification.every((t: { equal: boolean }) => t.equal)).toBe(true);
    expect(reshard.progress.rowsCopied).toBeGreaterThan(0);
    map = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    expect(map.version).toBe(reshard.mapVersion);
    const two = map.shards.find((s: { shard: number }) => s.shard === 2);
    expect(two.ranges).toEqual([reshard.moved]);
    const phases = (await w.world.events())
      .filter((e) => e.type.includes("reshard.phase-changed") && e.data.reshardId === reshard.id)
      .map((e) => e.data.phase);
    expect(phases).toEqual(["copying", "catching-up", "verifying", "cutting-over", "cleaning-up"]);
  }, 180_000);

  it("the writer saw no error, only the pause", () => {
    expect(writer.errors).toEqual([]);
  });

  it("every row is on the shard owning its hash; the source kept none of the moved range", async () => {
    for (const s of map.shards) {
      const pool = w.pools[s.shard]!;
      expect(await strayRows(pool, "orders", "hashint8extended(id, 0)", s.ranges)).toBe(0);
      expect(await strayRows(pool, "accounts", "hashtextextended(name, 0)", s.ranges)).toBe(0);
    }
  });

  it("the rows are exactly what the writer committed: nothing lost, duplicated or resurrected", async () => {
    const seen = new Map<number, number>();
    let total = 0;
    for (const pool of w.pools) {
      const { rows } = await pool.query<{ id: string; amount: number }>("SELECT id, amount FROM orders");
      total += rows.length;
      for (const r of rows) seen.set(Number(r.id), r.amount);
    }
    expect(total).toBe(seen.size);
    const expected = writer.model;
    expect(seen.size).toBe(expected.size);
    const wrong = [...expected].filter(([id, amount]) => seen.get(id) !== amount).slice(0, 5);
    expect(wrong).toEqual([]);
    const accounts = await Promise.all(
      w.pools.map(async (p) => Number((await p.query("SELECT count(*) AS n FROM accounts")).rows[0].n)),
    );
    expect(accounts.reduce((a, b) => a + b, 0)).toBe(ACCOUNTS);
  });

  it("the unsharded table is on the new shard whole; publication, slot and subscription are gone", async () => {
    const countries = await w.pools[2]!.query("SELECT count(*)::int AS n FROM countries");
    expect(countries.rows[0].n).toBe(50);
    const left = await w.pools[0]!.query(
      "SELECT (SELECT count(*) FROM pg_publication)::int AS pubs, (SELECT count(*) FROM pg_replication_slots)::int AS slots",
    );
    expect(left.rows[0]).toEqual({ pubs: 0, slots: 0 });
    const subs = await w.pools[2]!.query("SELECT count(*)::int AS n FROM pg_subscription");
    expect(subs.rows[0].n).toBe(0);
  });

  it("a second split while none runs is refused for a shard that owns no range, and listed reshards show the first", async () => {
    const list = await w.call("GET", `/v1/databases/${DB}/reshards`);
    expect(list.body.reshards.map((r: { id: string }) => r.id)).toContain(reshard.id);
    const cancel = await w.call("POST", `/v1/databases/${DB}/reshards/${reshard.id}/cancel`);
    expect(cancel.status).toBe(409);
    const bad = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 7 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe("body.shard");
  });
});

/** count(*) of `table` through the router: one row per shard, summed. */
async function routedCount(table: string): Promise<number> {
  const res = await w.call("POST", `/v1/databases/${DB}/query`, {
    sql: `SELECT count(*)::int AS n FROM ${table}`,
  });
  expect(res.status).toBe(200);
  return res.body.rows.reduce((sum: number, r: { n: number }) => sum + r.n, 0);
}

async function finished(id: string): Promise<Body> {
  return waitFor(
    async () => {
      const r = (await w.call("GET", `/v1/databases/${DB}/reshards/${id}`)).body;
      return r.state !== "running" && r;
    },
    { what: `reshard ${id} to end`, timeoutMs: 120_000, intervalMs: 200 },
  );
}

describe("move a range to a serving shard, then merge shards back", () => {
  it("moves a piece of shard 1's range to shard 2, which serves: its readers never see a copied row twice", async () => {
    const before = await routedCount("accounts");
    const map = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    const one = map.shards.find((s: Body) => s.shard === 1).ranges[0];
    const range = {
      from: one.from,
      to: (BigInt(one.from) + (BigInt(one.to) - BigInt(one.from)) / 2n).toString(),
    };
    const started = await w.call("POST", `/v1/databases/${DB}/moves`, { range, toShard: 2 });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ kind: "move", sourceShard: 1, targetShard: 2, moved: range });
    // Counted through the router all along: shard 2 holds copied rows of a range shard 1 still
    // owns (hidden from the application role by row-level security), and no count may see them.
    const counts: number[] = [];
    let state = "running";
    while (state === "running") {
      counts.push(await routedCount("accounts"));
      state = (await w.call("GET", `/v1/databases/${DB}/reshards/${started.body.id}`)).body.state;
    }
    const done = await finished(started.body.id);
    expect(done.state).toBe("completed");
    counts.push(await routedCount("accounts"));
    expect(new Set(counts)).toEqual(new Set([before]));
    const after = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    for (const s of after.shards) {
      expect(await strayRows(w.pools[s.shard]!, "orders", "hashint8extended(id, 0)", s.ranges)).toBe(0);
      expect(await strayRows(w.pools[s.shard]!, "accounts", "hashtextextended(name, 0)", s.ranges)).toBe(0);
    }
    const policies = await w.pools[2]!.query("SELECT count(*)::int AS n FROM pg_policy");
    expect(policies.rows[0].n).toBe(0);
  }, 180_000);

  it("merges shard 2 back into shard 0: one range again, shard 2 owns nothing, every row still there", async () => {
    const orders = await routedCount("orders");
    const merged = await w.call("POST", `/v1/databases/${DB}/merges`, { shards: [0, 2] });
    expect(merged.status).toBe(202);
    const done = await finished(merged.body.id);
    expect(done).toMatchObject({ state: "completed", kind: "merge", targetShard: 0 });
    const map = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    expect(map.shards.find((s: Body) => s.shard === 2).ranges).toEqual([]);
    expect(map.shards.find((s: Body) => s.shard === 0).ranges).toHaveLength(1);
    expect(await routedCount("orders")).toBe(orders);
    for (const s of map.shards) {
      expect(await strayRows(w.pools[s.shard]!, "orders", "hashint8extended(id, 0)", s.ranges)).toBe(0);
    }
  }, 180_000);

  it("refuses a merge of shards that do not border and a move across two ranges", async () => {
    const map = (await w.call("GET", `/v1/databases/${DB}/shards`)).body;
    const zero = map.shards.find((s: Body) => s.shard === 0).ranges[0];
    const one = map.shards.find((s: Body) => s.shard === 1).ranges[0];
    const across = await w.call("POST", `/v1/databases/${DB}/moves`, {
      range: { from: zero.from, to: one.to },
      toShard: 2,
    });
    expect(across.status).toBe(400);
    expect(across.body.errors[0].field).toBe("body.range");
    const merge = await w.call("POST", `/v1/databases/${DB}/merges`, { shards: [0, 2] });
    expect(merge.status).toBe(400);
  });
});
