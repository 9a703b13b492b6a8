// Real clients through the router's wire endpoint: psycopg2 (libpq) and JDBC (past its
// prepareThreshold, so named server-side statements) each run the session their fixture runs
// against PostgreSQL itself in client-fixtures.int.spec.ts, on a database of two shards; then every
// row is checked on the shards directly to sit where PostgreSQL's own hash puts it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClientSession, FIXTURE_ROWS, runJdbc, runPsycopg2 } from "./fixtures/client-fixtures.ts";
import { startWireWorld, type WireWorld } from "./wire-world.ts";

const DB = "wireclients";
const TABLES = { psycopg2: "py_items", jdbc: "jdbc_items" } as const;
let wire: WireWorld;
let url: string;

beforeAll(async () => {
  wire = await startWireWorld(
    2,
    DB,
    Object.values(TABLES).map((table) => ({ table, keyColumn: "id", keyType: "bigint" as const })),
  );
  url = `postgres://${encodeURIComponent(wire.user)}:${encodeURIComponent(wire.password)}@127.0.0.1:${wire.port}/${DB}?sslmode=disable`;
});
afterAll(async () => {
  await wire?.dispose();
});

const expected = {
  inserted: FIXTURE_ROWS.count,
  qty_in_transaction: FIXTURE_ROWS.committedQty,
  qty_after_commit: FIXTURE_ROWS.committedQty,
  qty_after_rollback: FIXTURE_ROWS.rolledBackQty,
  duplicate_key: "23505",
  aggregate_rows: 1,
  count: FIXTURE_ROWS.count,
  sum: FIXTURE_ROWS.sum,
};

/** Every row of `table` on the shard that owns its id, all of them once. */
async function expectRowsWhereTheyBelong(table: string) {
  const ids: number[] = [];
  for (const [index, shard] of wire.world.shards.entries()) {
    const { rows } = await shard.pool.query<{ id: string }>(`SELECT id FROM ${table}`);
    for (const { id } of rows) {
      expect(wire.shardOf(BigInt(id)), `${table} id ${id} on shard ${index}`).toBe(index);
      ids.push(Number(id));
    }
  }
  expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: FIXTURE_ROWS.count }, (_, i) => i + 1));
}

describe("clients through the wire endpoint", () => {
  it("psycopg2: keyed writes and reads, transactions, one scatter aggregate row; rows on their shards", async () => {
    const session: ClientSession = await runPsycopg2(url, { table: TABLES.psycopg2 });
    expect(session).toMatchObject({
      ...expected,
      selected: { "1": ["item 1", 10], "7": ["item 7", 70], "20": ["item 20", 200] },
    });
    await expectRowsWhereTheyBelong(TABLES.psycopg2);
  });

  it("JDBC: prepared statements past prepareThreshold, transactions, one scatter aggregate row; rows on their shards", async () => {
    const session = await runJdbc(url, { table: TABLES.jdbc });
    expect(session).toMatchObject({ ...expected, server_prepared: true, selected_ok: FIXTURE_ROWS.count });
    await expectRowsWhereTheyBelong(TABLES.jdbc);
  });
});
