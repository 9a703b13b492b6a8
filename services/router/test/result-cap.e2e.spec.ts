// DBPLANE_ROUTER_MAX_RESULT_BYTES end to end: a router with a small cap, a database of two shards,
// answers past the cap refused with 413 naming the limit (SQLSTATE 54000), answers under it served,
// and the same pools serving afterwards.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "capped";
const LIMIT = 8_192;
let world: RouterWorld;
let base: string;
const call = (method: string, path: string, body?: unknown) => api(base, world.token(), method, path, body);
// 100-byte notes: 50 rows are ~5 KB, under the limit; 200 rows ~20 KB, over it.
const rowsOf = (n: number) => `SELECT g AS id, repeat('x', 100) AS note FROM generate_series(1, ${n}) g`;

beforeAll(async () => {
  world = await createRouterWorld(2);
  base = (await world.startReplica({ env: { DBPLANE_ROUTER_MAX_RESULT_BYTES: String(LIMIT) } })).base;
  await world.announce(DB);
  await waitForMap(base, world.token(), DB);
});
afterAll(async () => {
  await world?.dispose();
});

const key = { type: "bigint", value: 42 };

function expectTooLarge(res: Awaited<ReturnType<typeof call>>) {
  expect(res.status).toBe(413);
  expect(res.type).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    status: 413,
    code: "RESULT_TOO_LARGE",
    sqlstate: "54000",
    limitBytes: LIMIT,
  });
  expect(res.body.detail ?? res.body.title).toMatch(/DBPLANE_ROUTER_MAX_RESULT_BYTES/);
}

describe("result cap", () => {
  it("refuses a keyed result past the cap with 413, serves one under it, and keeps serving", async () => {
    expectTooLarge(await call("POST", `/v1/databases/${DB}/query`, { sql: rowsOf(200), key }));
    for (let i = 0; i < 3; i++) {
      const small = await call("POST", `/v1/databases/${DB}/query`, { sql: rowsOf(50), key });
      expect(small.status).toBe(200);
      expect(small.body.rows).toHaveLength(50);
    }
  });

  it("counts a scatter's shards together: each under the cap, the sum over it, is refused", async () => {
    // 60 rows per shard (~6 KB) fit alone; two shards (~12 KB) do not.
    expectTooLarge(await call("POST", `/v1/databases/${DB}/query`, { sql: rowsOf(60) }));
    const fits = await call("POST", `/v1/databases/${DB}/query`, { sql: rowsOf(30) });
    expect(fits.status).toBe(200);
    expect(fits.body.rows).toHaveLength(60);
  });

  it("counts a transaction's statements together and names the statement that went over", async () => {
    const res = await call("POST", `/v1/databases/${DB}/transaction`, {
      key,
      statements: [{ sql: rowsOf(60) }, { sql: rowsOf(60) }],
    });
    expectTooLarge(res);
    expect(res.body.statement).toBe(1);
  });
});
