// The HTTP query API reads the SQL with PostgreSQL's grammar before running it: a key in the
// statement that another shard owns is refused instead of landing on the wrong shard, and one
// string carries one statement.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "checked";
let world: RouterWorld;
let base: string;
const call = (method: string, path: string, body?: unknown) => api(base, world.token(), method, path, body);
const keyOf = (id: number) => ({ type: "bigint", value: id });
/** An id owned by shard 0 and one owned by shard 1. */
let onShard: [number, number];

beforeAll(async () => {
  world = await createRouterWorld(2);
  base = (await world.startReplica()).base;
  await world.announce(DB, { shardedTables: [{ table: "items", keyColumn: "id", keyType: "bigint" }] });
  await waitForMap(base, world.token(), DB);
  const migration = await call("POST", `/v1/databases/${DB}/migrations`, {
    id: "001-items",
    statements: [
      "CREATE TABLE items (id bigint PRIMARY KEY, note text NOT NULL)",
      "CREATE TABLE notes (n int)",
    ],
  });
  expect(migration.status).toBe(200);
  const owners = new Map<number, number>();
  for (let id = 1; owners.size < 2; id++) {
    const res = await call("POST", `/v1/databases/${DB}/query`, { sql: "SELECT 1", key: keyOf(id) });
    if (!owners.has(res.body.shard)) owners.set(res.body.shard, id);
  }
  onShard = [owners.get(0)!, owners.get(1)!];
});
afterAll(async () => {
  await world?.dispose();
});

const rowsOnShards = async () =>
  Promise.all(
    world.shards.map(async (s) => Number((await s.pool.query("SELECT count(*) AS n FROM items")).rows[0].n)),
  );

describe("HTTP statements checked against the request", () => {
  it("refuses a keyed write whose SQL key another shard owns, naming body.key, and writes nothing", async () => {
    const [a, b] = onShard;
    for (const body of [
      { sql: "INSERT INTO items (id, note) VALUES ($1, 'x')", params: [b], key: keyOf(a) },
      { sql: `INSERT INTO items (id, note) VALUES (${b}, 'x')`, key: keyOf(a) },
      { sql: `UPDATE items SET note = 'y' WHERE id = ${b}`, key: keyOf(a) },
      { sql: `SELECT * FROM items WHERE id IN (${a}, ${b})`, key: keyOf(a) },
      { sql: "INSERT INTO items (id, note) VALUES ($1, 'x'), ($2, 'x')", params: [a, b], key: keyOf(a) },
    ]) {
      const res = await call("POST", `/v1/databases/${DB}/query`, body);
      expect(res.status, body.sql).toBe(400);
      expect(res.body.errors).toEqual([
        expect.objectContaining({ field: "body.key", message: expect.stringMatching(/belongs to shard 1/) }),
      ]);
    }
    expect(await rowsOnShards()).toEqual([0, 0]);
  });

  it("runs statements whose key matches, and statements that name no key or no sharded table", async () => {
    const [a] = onShard;
    const insert = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "INSERT INTO items (id, note) VALUES ($1, 'a')",
      params: [a],
      key: keyOf(a),
    });
    expect(insert.status).toBe(200);
    expect(insert.body.shard).toBe(0);
    for (const sql of ["SELECT count(*) FROM items", "SELECT count(*) FROM notes", "SELECT 1"]) {
      expect((await call("POST", `/v1/databases/${DB}/query`, { sql, key: keyOf(a) })).status, sql).toBe(200);
    }
    expect(await rowsOnShards()).toEqual([1, 0]);
    await call("POST", `/v1/databases/${DB}/query`, {
      sql: "DELETE FROM items WHERE id = $1",
      params: [a],
      key: keyOf(a),
    });
  });

  it("refuses a transaction statement whose key is not on the chosen shard, naming body.key or body.shard", async () => {
    const [a, b] = onShard;
    const byKey = await call("POST", `/v1/databases/${DB}/transaction`, {
      key: keyOf(a),
      statements: [
        { sql: "INSERT INTO items (id, note) VALUES ($1, 'a')", params: [a] },
        { sql: "INSERT INTO items (id, note) VALUES ($1, 'b')", params: [b] },
      ],
    });
    expect(byKey.status).toBe(400);
    expect(byKey.body.errors).toEqual([expect.objectContaining({ field: "body.key" })]);
    const byShard = await call("POST", `/v1/databases/${DB}/transaction`, {
      shard: 0,
      statements: [{ sql: `DELETE FROM items WHERE id = ${b}` }],
    });
    expect(byShard.status).toBe(400);
    expect(byShard.body.errors).toEqual([expect.objectContaining({ field: "body.shard" })]);
    expect(await rowsOnShards()).toEqual([0, 0]);
  });

  it("places a keyless write by the keys it names: each INSERT row on its owner, never on every shard", async () => {
    const [a, b] = onShard;
    const split = await call("POST", `/v1/databases/${DB}/query`, {
      sql: `INSERT INTO items (id, note) VALUES ($1, 'a'), (${b}, 'b') RETURNING id`,
      params: [a],
    });
    expect(split.status, JSON.stringify(split.body)).toBe(200);
    expect(split.body.shards.map((s: { shard: number; rowCount: number }) => [s.shard, s.rowCount])).toEqual([
      [0, 1],
      [1, 1],
    ]);
    expect(split.body.rows.map((r: { id: string }) => Number(r.id)).sort()).toEqual([a, b].sort());
    // allowWrites (write on every shard) does not copy a row to a shard that does not own it.
    const one = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "INSERT INTO items (id, note) VALUES ($1, 'c')",
      params: [a + 1_000_000],
      allowWrites: true,
    });
    expect(one.status).toBe(200);
    expect(one.body.shards).toHaveLength(1);
    const owner = one.body.shards[0].shard;
    const onEach = await Promise.all(
      world.shards.map(async (s) =>
        (await s.pool.query("SELECT id::int, note FROM items ORDER BY id")).rows.map((r) => r.id),
      ),
    );
    expect(onEach[0]).toEqual([a, ...(owner === 0 ? [a + 1_000_000] : [])].sort((x, y) => x - y));
    expect(onEach[1]).toEqual([b, ...(owner === 1 ? [a + 1_000_000] : [])].sort((x, y) => x - y));
    // readOnly still means read-only: PostgreSQL refuses the write (25006).
    const readOnly = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "INSERT INTO items (id, note) VALUES ($1, 'd')",
      params: [a + 2_000_000],
      readOnly: true,
    });
    expect([readOnly.status, readOnly.body.sqlstate]).toEqual([400, "25006"]);
    // An UPDATE/DELETE naming its key runs on its owner without allowWrites.
    const updated = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "UPDATE items SET note = 'changed' WHERE id = $1",
      params: [b],
    });
    expect(updated.status).toBe(200);
    expect(updated.body.shards).toEqual([expect.objectContaining({ shard: 1, rowCount: 1 })]);
    const deleted = await call("POST", `/v1/databases/${DB}/query`, {
      sql: `DELETE FROM items WHERE id IN (${a}, ${b}, ${a + 1_000_000})`,
    });
    expect(deleted.status).toBe(200);
    expect(deleted.body.shards.reduce((n: number, s: { rowCount: number }) => n + s.rowCount, 0)).toBe(3);
    expect(await rowsOnShards()).toEqual([0, 0]);
  });

  it("refuses a keyless INSERT whose rows' keys it cannot know, or a row without a key, naming body.sql", async () => {
    for (const body of [
      { sql: "INSERT INTO items (id, note) SELECT n, 'x' FROM notes", allowWrites: true },
      { sql: "INSERT INTO items (id, note) VALUES (1, 'x'), ($1, 'y')", params: [null] },
      { sql: "INSERT INTO items (id, note) VALUES (1, 'x'), ('one', 'y')" },
    ]) {
      const res = await call("POST", `/v1/databases/${DB}/query`, body);
      expect(res.status, body.sql).toBe(400);
      expect(res.body.errors, body.sql).toEqual([expect.objectContaining({ field: "body.sql" })]);
    }
    expect(await rowsOnShards()).toEqual([0, 0]);
  });

  it("refuses more than one statement in a string, naming the field that holds it", async () => {
    const [a] = onShard;
    const twoStatements = "SELECT 1; SELECT 2";
    const keyed = await call("POST", `/v1/databases/${DB}/query`, { sql: twoStatements, key: keyOf(a) });
    const scatter = await call("POST", `/v1/databases/${DB}/query`, { sql: twoStatements });
    const tx = await call("POST", `/v1/databases/${DB}/transaction`, {
      shard: 0,
      statements: [{ sql: "SELECT 1" }, { sql: twoStatements }],
    });
    for (const [res, field] of [
      [keyed, "body.sql"],
      [scatter, "body.sql"],
      [tx, "body.statements[1].sql"],
    ] as const) {
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ field })]);
    }
  });

  it("leaves text PostgreSQL's grammar rejects to PostgreSQL, which answers with SQLSTATE and position", async () => {
    const res = await call("POST", `/v1/databases/${DB}/query`, { sql: "SELEKT 1", key: keyOf(onShard[0]) });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: "POSTGRES_ERROR", sqlstate: "42601", position: 1 });
  });
});
