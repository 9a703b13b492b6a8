// HTTP statements repeated DBPLANE_ROUTER_HTTP_PREPARE_AFTER times run as server-side prepared
// statements on the shard connection, invisibly to the client: the same answers after a session
// reset (DISCARD ALL drops them), after DDL that changes a prepared statement's result type, and
// after a function deallocates them behind the router's back. One connection per shard server,
// so every request here runs on the same backend and sees its pg_prepared_statements.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statementName } from "../src/shards/prepared-statements.ts";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "prepared";
let world: RouterWorld;
let base: string;
const key = { type: "bigint", value: 1 };
const call = (body: unknown) => api(base, world.token(), "POST", `/v1/databases/${DB}/query`, body);
const ok = async (body: { sql: string; params?: unknown[]; key?: unknown }) => {
  const res = await call(body);
  expect(res.status, `${body.sql}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body as { rows: Record<string, unknown>[] };
};
const migrate = async (id: string, statements: string[]) => {
  const res = await api(base, world.token(), "POST", `/v1/databases/${DB}/migrations`, { id, statements });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
};
type Outcome = "parsed" | "reused" | "retried";
const counts = async (): Promise<Record<Outcome, number>> => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (outcome: Outcome) => {
    const match = new RegExp(
      `^dbplane_router_http_prepared_statements_total\\{outcome="${outcome}"\\} (\\d+)$`,
      "m",
    ).exec(text);
    expect(match, outcome).not.toBeNull();
    return Number(match![1]);
  };
  return { parsed: read("parsed"), reused: read("reused"), retried: read("retried") };
};
/**
 * The prepared statements of the connection that runs keyed statements (read-write), or with
 * `scatter` of the one that runs scatter reads (a read-only session), by a text run once.
 */
const preparedOnServer = async (tag: string, scatter = false) =>
  (
    await ok({
      sql: `SELECT name, statement FROM pg_prepared_statements /* ${tag} */ ORDER BY name`,
      ...(scatter ? {} : { key }),
    })
  ).rows as { name: string; statement: string }[];

const BY_ID = "SELECT id, note FROM items WHERE id = $1";

beforeAll(async () => {
  world = await createRouterWorld(1, {
    env: { DBPLANE_ROUTER_SHARD_POOL_SIZE: "1", DBPLANE_ROUTER_HTTP_PREPARE_AFTER: "3" },
  });
  base = (await world.startReplica()).base;
  await world.announce(DB, { shardedTables: [{ table: "items", keyColumn: "id", keyType: "bigint" }] });
  await waitForMap(base, world.token(), DB);
  await migrate("001-items", [
    "CREATE TABLE items (id bigint PRIMARY KEY, note text NOT NULL)",
    "INSERT INTO items SELECT g, 'note ' || g FROM generate_series(1, 20) g",
  ]);
});
afterAll(async () => {
  await world?.dispose();
});

describe("HTTP prepared statements", () => {
  it("prepares a statement on its third run and binds it from then on, keyed and scattered", async () => {
    const before = await counts();
    for (let id = 1; id <= 6; id++) {
      const { rows } = await ok({ sql: BY_ID, params: [id], key: { type: "bigint", value: id } });
      expect(rows).toEqual([{ id: String(id), note: `note ${id}` }]);
    }
    const scatter = "SELECT count(*) AS n FROM items WHERE id <= $1";
    for (let i = 0; i < 3; i++)
      expect((await ok({ sql: scatter, params: [10] })).rows).toEqual([{ n: "10" }]);

    expect(await preparedOnServer("1")).toEqual([{ name: statementName(BY_ID), statement: BY_ID }]);
    expect(await preparedOnServer("1", true)).toEqual([{ name: statementName(scatter), statement: scatter }]);
    const after = await counts();
    // BY_ID: runs 1-2 unnamed, 3 parsed, 4-6 reused; the scatter: 1-2 unnamed, 3 parsed.
    expect(after.parsed - before.parsed).toBe(2);
    expect(after.reused - before.reused).toBe(3);
    expect(after.retried).toBe(before.retried);
  });

  it("parses again after a reset (DISCARD ALL) instead of binding a name the server dropped", async () => {
    const before = await counts();
    expect((await call({ sql: "SET work_mem = '77MB'", key })).status).toBe(200);
    expect(await preparedOnServer("2")).toEqual([]);
    expect((await ok({ sql: BY_ID, params: [2], key })).rows).toEqual([{ id: "2", note: "note 2" }]);
    const after = await counts();
    expect(after.parsed - before.parsed).toBe(1);
    expect(after.retried).toBe(before.retried);
  });

  it("answers with the new columns after DDL elsewhere changed a prepared statement's result type", async () => {
    const all = "SELECT * FROM items WHERE id = $1";
    for (let i = 0; i < 3; i++) await ok({ sql: all, params: [3], key });
    const before = await counts();
    // From another connection, as another router replica's migration or an operator would.
    await world.shards[0]!.pool.query("ALTER TABLE items ADD COLUMN extra int NOT NULL DEFAULT 7");
    expect((await ok({ sql: all, params: [3], key })).rows).toEqual([{ id: "3", note: "note 3", extra: 7 }]);
    expect((await counts()).retried - before.retried).toBe(1);
    // Prepared again under the same name, for the new result type.
    expect((await ok({ sql: all, params: [4], key })).rows).toEqual([{ id: "4", note: "note 4", extra: 7 }]);
    expect((await counts()).retried - before.retried).toBe(1);
  });

  it("retries once when a function deallocated the statements behind the router's back", async () => {
    await migrate("003-forget", [
      "CREATE FUNCTION forget_prepared() RETURNS int LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DEALLOCATE ALL'; RETURN 1; END $$",
    ]);
    await ok({ sql: BY_ID, params: [5], key });
    expect((await preparedOnServer("3")).map((s) => s.statement)).toContain(BY_ID);
    const before = await counts();
    expect((await ok({ sql: "SELECT forget_prepared() AS n", key })).rows).toEqual([{ n: 1 }]);
    expect((await ok({ sql: BY_ID, params: [5], key })).rows).toEqual([{ id: "5", note: "note 5" }]);
    expect((await counts()).retried - before.retried).toBe(1);
  });

  it("keeps a prepared write's errors as they were, and the statement prepared", async () => {
    const insert = "INSERT INTO items (id, note) VALUES ($1, $2)";
    const duplicate = () =>
      call({ sql: insert, params: [101, "again"], key: { type: "bigint", value: 101 } });
    await ok({ sql: insert, params: [101, "n"], key: { type: "bigint", value: 101 } });
    const unnamed = await duplicate();
    expect(unnamed.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(unnamed.body)).toContain("23505");
    // The third run prepares it, and fails the same way.
    expect(await duplicate()).toEqual(unnamed);
    expect((await counts()).parsed).toBeGreaterThan(0);
    const before = await counts();
    await ok({ sql: insert, params: [104, "n"], key: { type: "bigint", value: 104 } });
    const after = await counts();
    expect(after.reused - before.reused).toBe(1);
    expect(after.retried).toBe(before.retried);
  });
});
