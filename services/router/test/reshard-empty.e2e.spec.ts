// A split of a database that holds no table yet (created, no migration run): nothing to copy, so
// the split is the map change alone, and the database is usable through the new map afterwards.
// A table that appears on the source between the copy phase and the cut-over fails the split
// with the map unchanged: its rows were never copied. (Before, such a split never ended: the
// range mover refused an empty table list, and the failure path rebuilt the same mover.)
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Body, createReshardWorld, DB, type ReshardWorld } from "./reshard-world.ts";

let w: ReshardWorld;
let holdDir: string;
let holdFile: string;

beforeAll(async () => {
  holdDir = await mkdtemp(join(tmpdir(), "dbplane-reshard-empty-"));
  holdFile = join(holdDir, "hold");
  await writeFile(holdFile, "");
  w = await createReshardWorld(3, { env: { DBPLANE_ROUTER_RESHARD_HOLD_FILE: holdFile }, routers: 1 });
  await w.announce(1);
  await w.announce(3);
}, 120_000);
afterAll(async () => {
  await w?.dispose();
  await rm(holdDir, { recursive: true, force: true });
}, 120_000);

const ended = (id: string) =>
  waitFor(
    async () => {
      const r = (await w.call("GET", `/v1/databases/${DB}/reshards/${id}`)).body;
      return r.state !== "running" && r;
    },
    { what: `reshard ${id} to end`, timeoutMs: 60_000, intervalMs: 100 },
  );

const ranges = async () =>
  ((await w.call("GET", `/v1/databases/${DB}/shards`)).body.shards as Body[]).map((s) => ({
    shard: s.shard,
    ranges: s.ranges,
  }));

describe("a split of a database without tables", () => {
  it("fails, map unchanged, when a table appears on the source before the cut-over", async () => {
    const before = await ranges();
    await writeFile(holdFile, "cutting-over");
    const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 0, at: "0", toShard: 1 });
    expect(started.status).toBe(202);
    await waitFor(
      async () => (await readFile(`${holdFile}.held`, "utf8").catch(() => "")).startsWith("cutting-over"),
      {
        what: "the runner held before the cut-over",
      },
    );
    // Straight on the source, not through the router: rows no copy has seen.
    await w.pools[0]!.query("CREATE TABLE late (id bigint PRIMARY KEY)");
    await w.pools[0]!.query("INSERT INTO late VALUES (1)");
    await writeFile(holdFile, "");
    const r = await ended(started.body.id);
    expect(r).toMatchObject({ state: "failed" });
    expect(r.error).toMatch(/holds a table it did not hold when the copy began/);
    expect(await ranges()).toEqual(before);
    await w.pools[0]!.query("DROP TABLE late");
  });

  it("completes with the map change alone, and the new map serves", async () => {
    const started = await w.call("POST", `/v1/databases/${DB}/splits`, { shard: 0, at: "0", toShard: 2 });
    expect(started.status).toBe(202);
    const r = await ended(started.body.id);
    expect(r).toMatchObject({ state: "completed", targetShard: 2, verification: [] });
    const after = await ranges();
    expect(after.find((s) => s.shard === 0)?.ranges).toHaveLength(1);
    expect(after.find((s) => s.shard === 2)?.ranges).toHaveLength(1);
    // The first migration reaches every shard; keyed writes then land by the new map.
    const migration = await w.call("POST", `/v1/databases/${DB}/migrations`, {
      id: "001-orders",
      statements: ["CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL)"],
    });
    expect(migration.status).toBe(200);
    for (const id of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const res = await w.call("POST", `/v1/databases/${DB}/query`, {
        key: { type: "bigint", value: String(id) },
        sql: "INSERT INTO orders VALUES ($1, 1)",
        params: [id],
      });
      expect(res.status).toBe(200);
    }
    const count = async (shard: number, hashes: "< 0" | ">= 0") => {
      const sql = `SELECT count(*)::int AS n FROM orders WHERE hashint8extended(id, 0) ${hashes}`;
      return (await w.pools[shard]!.query<{ n: number }>(sql)).rows[0]!.n;
    };
    // Shard 0 keeps the hashes below 0 of its old range; shard 2 took those from 0 up.
    expect(await count(0, ">= 0")).toBe(0);
    expect(await count(2, "< 0")).toBe(0);
    expect((await count(0, "< 0")) + (await count(2, ">= 0"))).toBe(8);
  });
});
