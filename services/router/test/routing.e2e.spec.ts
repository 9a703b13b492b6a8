// Routing by key end to end: a router process, a database of three shards (each a real
// PostgreSQL database), rows inserted through the router and checked on the shards with
// PostgreSQL's own hash function.
import { randomUUID } from "node:crypto";
import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "orders";
// Enough to cover every shard's range many times over; each is an HTTP request (the test ran past
// vitest's 60 s limit with 10,000 at load ~25).
const ROWS = 3_000;
let world: RouterWorld;
let base: string;
const call = (method: string, path: string, body?: unknown) => api(base, world.token(), method, path, body);

beforeAll(async () => {
  world = await createRouterWorld(3);
  base = (await world.startReplica()).base;
  await world.announce(DB);
  await waitForMap(base, world.token(), DB);
  const migration = await call("POST", `/v1/databases/${DB}/migrations`, {
    id: "001-items",
    statements: ["CREATE TABLE items (id bigint PRIMARY KEY, note text NOT NULL)"],
  });
  expect(migration.status).toBe(200);
  expect(migration.body.complete).toBe(true);
});
afterAll(async () => {
  await world?.dispose();
});

/** Runs `work` over `items` with at most `limit` at a time. */
async function inParallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

describe("routing by key", () => {
  it(`puts each of ${ROWS} rows on the shard whose range holds PostgreSQL's hash of its key; scatter count(*) = ${ROWS}`, async () => {
    const ids = Array.from({ length: ROWS }, (_, i) =>
      (BigInt(i) * 7919n - 40_000_000_000n + BigInt(i % 13) * 2n ** 40n).toString(),
    );
    await inParallel(ids, 32, async (id) => {
      const res = await call("POST", `/v1/databases/${DB}/query`, {
        sql: "INSERT INTO items (id, note) VALUES ($1, $2)",
        params: [id, `row ${id}`],
        key: { type: "bigint", value: id },
      });
      expect(res.status).toBe(200);
      expect(res.body.rowCount).toBe(1);
    });

    const map = await call("GET", `/v1/databases/${DB}/shards`);
    expect(map.status).toBe(200);
    let total = 0;
    for (const shard of map.body.shards) {
      const [range] = shard.ranges;
      const pool = world.shards[shard.shard]!.pool;
      const res = await pool.query<{ inside: string; outside: string }>(
        `SELECT count(*) FILTER (WHERE h >= $1::numeric AND h < $2::numeric) AS inside,
                count(*) FILTER (WHERE NOT (h >= $1::numeric AND h < $2::numeric)) AS outside
         FROM (SELECT hashint8extended(id, 0)::numeric AS h FROM items) t`,
        [range.from, range.to],
      );
      expect(Number(res.rows[0]!.outside)).toBe(0);
      expect(Number(res.rows[0]!.inside)).toBeGreaterThan(0);
      total += Number(res.rows[0]!.inside);
    }
    expect(total).toBe(ROWS);

    const count = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT count(*)::int AS n FROM items",
    });
    expect(count.status).toBe(200);
    expect(count.body.complete).toBe(true);
    expect(count.body.rows.map((r: { n: number }) => r.n).reduce((a: number, b: number) => a + b, 0)).toBe(
      ROWS,
    );
  });

  it("reads a row back by key from the shard that holds it", async () => {
    const res = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT id, note FROM items WHERE id = $1",
      params: ["-40000000000"],
      key: { type: "bigint", value: -40_000_000_000 },
    });
    expect(res.status).toBe(200);
    expect(res.body.rows).toEqual([{ id: "-40000000000", note: "row -40000000000" }]);
    expect(res.body.server).toBe("primary");
  });

  it("scatter merges the shards' rows by the stated orderBy and limit", async () => {
    const res = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT id FROM items ORDER BY id DESC LIMIT 5",
      orderBy: [{ column: "id", direction: "desc" }],
      limit: 5,
    });
    expect(res.status).toBe(200);
    const direct = await Promise.all(
      world.shards.map((s) => s.pool.query<{ id: string }>("SELECT id FROM items")),
    );
    const all = direct
      .flatMap((r) => r.rows.map((row) => BigInt(row.id)))
      .sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    expect(res.body.rows.map((r: { id: string }) => BigInt(r.id))).toEqual(all.slice(0, 5));
    expect(res.body.shards).toHaveLength(3);
  });

  it("scatter refuses writes unless allowWrites (PostgreSQL's read-only session says 25006)", async () => {
    const refused = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "DELETE FROM items WHERE id = -1",
    });
    expect(refused.status).toBe(400);
    expect(refused.body.sqlstate).toBe("25006");
    const allowed = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "UPDATE items SET note = note WHERE id = -1",
      allowWrites: true,
    });
    expect(allowed.status).toBe(200);
  });

  it("runs a transaction on one shard atomically: a failing statement leaves nothing behind", async () => {
    const key = { type: "bigint", value: "777000777" };
    const failed = await call("POST", `/v1/databases/${DB}/transaction`, {
      key,
      statements: [
        { sql: "INSERT INTO items (id, note) VALUES ($1, 'first')", params: ["777000777"] },
        { sql: "INSERT INTO items (id, note) VALUES ($1, 'duplicate')", params: ["777000777"] },
      ],
    });
    expect(failed.status).toBe(400);
    expect(failed.body.sqlstate).toBe("23505");
    expect(failed.body.statement).toBe(1);
    const after = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT count(*)::int AS n FROM items WHERE id = $1",
      params: ["777000777"],
      key,
    });
    expect(after.body.rows[0].n).toBe(0);

    const ok = await call("POST", `/v1/databases/${DB}/transaction`, {
      key,
      statements: [
        { sql: "INSERT INTO items (id, note) VALUES ($1, 'first')", params: ["777000777"] },
        { sql: "UPDATE items SET note = 'second' WHERE id = $1 RETURNING note", params: ["777000777"] },
      ],
    });
    expect(ok.status).toBe(200);
    expect(ok.body.results[1].rows).toEqual([{ note: "second" }]);
  });

  it("a readOnly query without a usable replica is served by the primary, read-only", async () => {
    const res = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT current_setting('transaction_read_only') AS ro",
      key: { type: "bigint", value: 1 },
      readOnly: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.server).toBe("primary");
    expect(res.body.rows).toEqual([{ ro: "on" }]);
  });

  it("a migration is idempotent by id, and a conflicting reuse of the id is refused", async () => {
    const again = await call("POST", `/v1/databases/${DB}/migrations`, {
      id: "001-items",
      statements: ["CREATE TABLE items (id bigint PRIMARY KEY, note text NOT NULL)"],
    });
    expect(again.status).toBe(200);
    expect(again.body.shards.map((s: { status: string }) => s.status)).toEqual([
      "already-applied",
      "already-applied",
      "already-applied",
    ]);
    const conflict = await call("POST", `/v1/databases/${DB}/migrations`, {
      id: "001-items",
      statements: ["SELECT 1"],
    });
    expect(conflict.status).toBe(409);
    for (const s of world.shards) {
      const res = await s.pool.query("SELECT id FROM dbplane_migrations");
      expect(res.rows).toEqual([{ id: "001-items" }]);
    }
  });
});

describe("dropped connections", () => {
  it("a read whose pooled connections the server terminated is answered on fresh ones", async () => {
    const key = { type: "bigint", value: 42 };
    const before = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT 1 AS one",
      key,
      readOnly: true,
    });
    expect(before.status).toBe(200);
    const shardDb = world.shards[before.body.shard]!.db.name;
    const killed = await world.shards[0]!.pool.query(
      "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'dbplane-router'",
      [shardDb],
    );
    expect(killed.rows[0].n).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) {
      const res = await call("POST", `/v1/databases/${DB}/query`, {
        sql: "SELECT 1 AS one",
        key,
        readOnly: true,
      });
      expect(res.status).toBe(200);
    }
  });
});

describe("bad input", () => {
  it("a SQL syntax error answers 400 with PostgreSQL's code and position", async () => {
    const res = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELEC id FROM items WHERE id = $1",
      params: [1],
      key: { type: "bigint", value: 1 },
    });
    expect(res.status).toBe(400);
    expect(res.type).toContain("application/problem+json");
    expect(res.body).toMatchObject({ code: "POSTGRES_ERROR", sqlstate: "42601", position: 1 });
    const scatter = await call("POST", `/v1/databases/${DB}/query`, { sql: "SELECT FROM WHERE" });
    expect(scatter.status).toBe(400);
    expect(scatter.body).toMatchObject({ sqlstate: "42601", position: 13 });
  });

  it("an unknown database answers 404", async () => {
    const res = await call("POST", "/v1/databases/no-such-db/query", {
      sql: "SELECT 1",
      key: { type: "bigint", value: 1 },
    });
    expect(res.status).toBe(404);
    expect((await call("GET", "/v1/databases/no-such-db/shards")).status).toBe(404);
  });

  it("a key of the wrong type answers 400 naming the field", async () => {
    for (const key of [
      { type: "bigint", value: "12; DROP TABLE items" },
      { type: "integer", value: 2 ** 40 },
      { type: "uuid", value: "nope" },
      { type: "text", value: 5 },
    ]) {
      const res = await call("POST", `/v1/databases/${DB}/query`, { sql: "SELECT 1", key });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: "body.key.value" })]);
    }
    const badType = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT 1",
      key: { type: "float", value: 1 },
    });
    expect(badType.status).toBe(400);
    expect(badType.body.errors[0].field).toBe("body.key.type");
  });

  it("an injection attempt through a text key and its parameter stays data", async () => {
    await call("POST", `/v1/databases/${DB}/migrations`, {
      id: "002-notes",
      statements: ["CREATE TABLE notes (k text PRIMARY KEY, v text)"],
    });
    const evil = "x'); DROP TABLE items; --";
    const insert = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "INSERT INTO notes (k, v) VALUES ($1, $1)",
      params: [evil],
      key: { type: "text", value: evil },
    });
    expect(insert.status).toBe(200);
    const read = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT v FROM notes WHERE k = $1",
      params: [evil],
      key: { type: "text", value: evil },
    });
    expect(read.body.rows).toEqual([{ v: evil }]);
    const count = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT count(*)::int AS n FROM items",
    });
    expect(count.status).toBe(200);
  });

  it("uuid keys route too", async () => {
    const id = randomUUID();
    const res = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT $1::uuid AS id",
      params: [id],
      key: { type: "uuid", value: id },
    });
    expect(res.status).toBe(200);
    expect(res.body.rows).toEqual([{ id }]);
  });

  it("GET shards shows ranges, endpoints and health, never a password", async () => {
    const res = await waitFor(async () => {
      const r = await call("GET", `/v1/databases/${DB}/shards`);
      return r.body.shards.every((s: { primary: { status: string } }) => s.primary.status === "up")
        ? r
        : undefined;
    });
    expect(res.body.shards).toHaveLength(3);
    expect(res.body.shards[0].ranges[0].from).toBe("-9223372036854775808");
    expect(res.body.shards[2].ranges[0].to).toBe("9223372036854775808");
    expect(JSON.stringify(res.body)).not.toContain("not-a-real-password");
    expect(JSON.stringify(res.body)).not.toContain("passwordRef");
  });
});
