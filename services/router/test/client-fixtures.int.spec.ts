// The client fixtures the wire e2e tests run through the router, proven here against PostgreSQL
// itself: if they pass here and fail through the router, the router is at fault, not the fixture.

import { createTestDatabase, type TestDatabase } from "@dbplane/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FIXTURE_ROWS, runJdbc, runPsycopg2 } from "./fixtures/client-fixtures.ts";

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase("client_fixture");
});
afterEach(async () => {
  await db.drop();
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

describe("client fixtures against PostgreSQL directly", () => {
  it("psycopg2: keyed writes and reads, a committed and a rolled-back transaction, one aggregate row", async () => {
    const session = await runPsycopg2(db.url);
    expect(session).toMatchObject({
      ...expected,
      selected: { "1": ["item 1", 10], "7": ["item 7", 70], "20": ["item 20", 200] },
    });
  });

  it("JDBC: prepared statements past prepareThreshold run server-side, and the same session holds", async () => {
    const session = await runJdbc(db.url);
    expect(session).toMatchObject({ ...expected, server_prepared: true, selected_ok: 20 });
  });

  it("both report a refused login as connect_error instead of failing", async () => {
    const url = new URL(db.url);
    url.pathname = "/no_such_database_for_fixture";
    expect((await runPsycopg2(url.toString())).connect_error).toMatch(/no_such_database_for_fixture/);
    expect((await runJdbc(url.toString())).connect_error).toBe("3D000");
  });
});
