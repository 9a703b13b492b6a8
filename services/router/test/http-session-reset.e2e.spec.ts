// An HTTP statement's pooled shard connection is reset (DISCARD ALL) only when the statement may
// have changed its session: a SET or a set_config(…, false) does not leak to the next request on
// the same connection, and a plain statement goes back to the pool without a reset. One
// connection per shard server, so every request here runs on the same backend.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "resets";
let world: RouterWorld;
let base: string;
const call = (body: unknown) => api(base, world.token(), "POST", `/v1/databases/${DB}/query`, body);
const key = { type: "bigint", value: 1 };
const resetCount = async () => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const match = /^dbplane_router_http_session_resets_total (\d+)$/m.exec(text);
  expect(match, "dbplane_router_http_session_resets_total").not.toBeNull();
  return Number(match![1]);
};
/** The backend and its work_mem, as the next request on the pooled connection sees them. */
const session = async () => {
  const res = await call({ sql: "SELECT pg_backend_pid() AS pid, current_setting('work_mem') AS v", key });
  expect(res.status).toBe(200);
  return res.body.rows[0] as { pid: number; v: string };
};

beforeAll(async () => {
  world = await createRouterWorld(1, { env: { DBPLANE_ROUTER_SHARD_POOL_SIZE: "1" } });
  base = (await world.startReplica()).base;
  await world.announce(DB, { shardedTables: [{ table: "items", keyColumn: "id", keyType: "bigint" }] });
  await waitForMap(base, world.token(), DB);
  const migration = await api(base, world.token(), "POST", `/v1/databases/${DB}/migrations`, {
    id: "001-items",
    statements: ["CREATE TABLE items (id bigint PRIMARY KEY, note text NOT NULL)"],
  });
  expect(migration.status).toBe(200);
});
afterAll(async () => {
  await world?.dispose();
});

describe("HTTP session resets", () => {
  it("sends no reset after plain keyed and scatter statements", async () => {
    const before = await resetCount();
    const first = await session();
    for (let id = 1; id <= 5; id++) {
      const insert = await call({
        sql: "INSERT INTO items (id, note) VALUES ($1, 'n')",
        params: [id],
        key: { type: "bigint", value: id },
      });
      expect(insert.status).toBe(200);
      expect(
        (await call({ sql: `SELECT note FROM items WHERE id = ${id}`, key: { type: "bigint", value: id } }))
          .status,
      ).toBe(200);
    }
    expect((await call({ sql: "SELECT count(*) AS n FROM items" })).body.rows).toEqual([{ n: "5" }]);
    expect(await session()).toEqual(first);
    expect(await resetCount()).toBe(before);
  });

  it("resets after a SET: the setting does not reach the next request on the connection", async () => {
    const before = await session();
    const resets = await resetCount();
    expect((await call({ sql: "SET work_mem = '77MB'", key })).status).toBe(200);
    expect(await session()).toEqual(before);
    expect(await resetCount()).toBe(resets + 1);
  });

  it("resets after set_config(…, false) in a SELECT, keyed or scattered", async () => {
    const before = await session();
    const resets = await resetCount();
    for (const body of [
      { sql: "SELECT set_config('work_mem', '55MB', false) AS v", key },
      { sql: "SELECT set_config('work_mem', '56MB', false) AS v FROM items WHERE id = 1", key },
      { sql: "SELECT set_config('work_mem', '57MB', false) AS v" },
    ]) {
      const res = await call(body);
      expect(res.status, body.sql).toBe(200);
      expect(await session(), body.sql).toEqual(before);
    }
    expect(await resetCount()).toBe(resets + 3);
  });

  it("resets after an advisory lock: it is not held for the next request", async () => {
    const before = await session();
    expect((await call({ sql: "SELECT pg_advisory_lock(4242)", key })).status).toBe(200);
    const held = await call({
      sql: "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
      key,
    });
    expect(held.body.rows).toEqual([{ n: "0" }]);
    expect(await session()).toEqual(before);
  });
});
