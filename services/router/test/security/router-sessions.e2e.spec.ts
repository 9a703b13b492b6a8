// Issue 16, item 5 (review finding 7, 9): caller SQL cannot reach past its own request. A setting
// or an open transaction does not outlive the request that made it (the session is reset before
// it goes back to the pool), a string of several statements is refused, and a statement whose
// HTTP request ends is cancelled on the server instead of running on for nobody.

import { uniqueName, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "../router-world.ts";

const DB = "sessions";
let world: RouterWorld;
let base: string;
const call = (method: string, path: string, body?: unknown) => api(base, world.token(), method, path, body);
const scatter = (sql: string) => call("POST", `/v1/databases/${DB}/query`, { sql });

/** Whether `table` exists on any shard (checked straight on the shard databases). */
async function existsAnywhere(table: string): Promise<boolean> {
  for (const s of world.shards) {
    const res = await s.pool.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [table]);
    if (res.rows[0]?.t) return true;
  }
  return false;
}

beforeAll(async () => {
  world = await createRouterWorld(2);
  // One connection per shard pool: every request of the test lands on the same session.
  base = (await world.startReplica({ env: { DBPLANE_ROUTER_SHARD_POOL_SIZE: "1" } })).base;
  await world.announce(DB);
  await waitForMap(base, world.token(), DB);
});
afterAll(async () => {
  await world?.dispose();
});

describe("caller SQL stays inside its request", () => {
  it("a session setting made by one scatter does not let the next one write", async () => {
    const off = await scatter("SELECT set_config('default_transaction_read_only', 'off', false) AS was");
    expect(off.status).toBe(200);
    const write = await scatter("CREATE TABLE pwn_setting (i int)");
    expect(write.status).toBe(400);
    expect(write.body.sqlstate).toBe("25006");
    expect(await existsAnywhere("pwn_setting")).toBe(false);
  });

  it("a transaction opened by one scatter is not the next request's", async () => {
    expect((await scatter("BEGIN READ WRITE")).status).toBe(200);
    const write = await scatter("CREATE TABLE pwn_begin (i int)");
    expect(write.status).toBe(400);
    expect(write.body.sqlstate).toBe("25006");
    await scatter("COMMIT");
    expect(await existsAnywhere("pwn_begin")).toBe(false);
  });

  it("refuses a string of several statements", async () => {
    const res = await scatter(
      "SET default_transaction_read_only=off; COMMIT; CREATE TABLE pwn_multi (i int)",
    );
    expect(res.status).toBe(400);
    expect(await existsAnywhere("pwn_multi")).toBe(false);
  });

  it("a migration string cannot COMMIT its way out of its transaction", async () => {
    const res = await call("POST", `/v1/databases/${DB}/migrations`, {
      id: "escape",
      statements: ["CREATE TABLE pwn_m1 (i int); COMMIT; CREATE TABLE pwn_m2 (i int)"],
    });
    expect(res.status).toBe(200);
    expect(res.body.complete).toBe(false);
    expect(res.body.shards.every((s: { status: string }) => s.status === "failed")).toBe(true);
    expect(await existsAnywhere("pwn_m1")).toBe(false);
    expect(await existsAnywhere("pwn_m2")).toBe(false);
  });

  it("cancels the statement on the shard when the HTTP request ends", async () => {
    const marker = uniqueName("sleeper");
    const client = new AbortController();
    const request = fetch(`${base}/v1/databases/${DB}/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${world.token()}`, "content-type": "application/json" },
      body: JSON.stringify({
        sql: `SELECT pg_sleep(600) /* ${marker} */`,
        key: { type: "bigint", value: 1 },
      }),
      signal: client.signal,
    }).catch(() => undefined);
    const running = async () => {
      for (const s of world.shards) {
        const res = await s.pool.query(
          "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
          [`%${marker}%`],
        );
        if (res.rowCount) return true;
      }
      return false;
    };
    await waitFor(running, { what: "the statement to run on its shard" });
    client.abort();
    await request;
    await waitFor(async () => !(await running()), { what: "the statement to be cancelled on its shard" });
  });
});
