// One shard stops (its address goes away: open connections cut, new ones refused) → its keys
// answer 503 naming it while the other shards keep answering; scatter reports it.

import { hashShardKey, RangeLookup, rangesFromText } from "@dbplane/sharding";
import { freePort, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";

const DB = "fragile";
let world: RouterWorld;
let base: string;
let proxy: TcpProxy;
let lookup: RangeLookup;
const call = (method: string, path: string, body?: unknown) => api(base, world.token(), method, path, body);

/** A bigint key owned by `shard` under the map. */
function keyOn(shard: number): number {
  for (let k = 1; ; k++) if (lookup.shardFor(hashShardKey("bigint", k)) === shard) return k;
}

beforeAll(async () => {
  world = await createRouterWorld(3);
  proxy = await startTcpProxy("127.0.0.1", world.shards[1]!.port);
  base = (await world.startReplica({ env: { DBPLANE_ROUTER_CONNECT_TIMEOUT_MS: "1000" } })).base;
  const deadReplica = { host: "127.0.0.1", port: await freePort() };
  await world.announce(DB, { ports: [undefined, proxy.port, undefined], replicas: [[deadReplica], [], []] });
  const map = await waitForMap(base, world.token(), DB);
  lookup = new RangeLookup(
    rangesFromText(
      map.shards.flatMap((s: { shard: number; ranges: { from: string; to: string }[] }) =>
        s.ranges.map((r) => ({ shard: s.shard, ...r })),
      ),
    ),
  );
  const migration = await call("POST", `/v1/databases/${DB}/migrations`, {
    id: "001",
    statements: ["CREATE TABLE kv (k bigint PRIMARY KEY, v text)"],
  });
  expect(migration.body.complete).toBe(true);
});
afterAll(async () => {
  await proxy?.stop().catch(() => {});
  await world?.dispose();
});

describe("a shard that stops", () => {
  it("answers 503 naming the shard for its keys while the other shards keep working", async () => {
    for (const shard of [0, 1, 2]) {
      const res = await call("POST", `/v1/databases/${DB}/query`, {
        sql: "INSERT INTO kv VALUES ($1, 'before')",
        params: [keyOn(shard)],
        key: { type: "bigint", value: keyOn(shard) },
      });
      expect(res.status).toBe(200);
    }
    await proxy.stop();

    const down = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT v FROM kv WHERE k = $1",
      params: [keyOn(1)],
      key: { type: "bigint", value: keyOn(1) },
    });
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ code: "SHARD_UNAVAILABLE", shard: 1, database: DB });
    expect(down.body.detail).toContain("shard 1");
    expect(JSON.stringify(down.body)).not.toContain(String(proxy.port));

    for (const shard of [0, 2]) {
      const res = await call("POST", `/v1/databases/${DB}/query`, {
        sql: "SELECT v FROM kv WHERE k = $1",
        params: [keyOn(shard)],
        key: { type: "bigint", value: keyOn(shard) },
      });
      expect(res.status).toBe(200);
      expect(res.body.rows).toEqual([{ v: "before" }]);
    }
  });

  it("scatter reports the missing shard: 503 by default, a marked partial result when asked", async () => {
    const strict = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT count(*)::int AS n FROM kv",
    });
    expect(strict.status).toBe(503);
    expect(strict.body.failedShards).toEqual([1]);

    const partial = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT count(*)::int AS n FROM kv",
      allowPartial: true,
    });
    expect(partial.status).toBe(200);
    expect(partial.body.complete).toBe(false);
    expect(partial.body.rows).toEqual([{ n: 1 }, { n: 1 }]);
    expect(partial.body.shards[1]).toMatchObject({
      shard: 1,
      error: { status: 503, code: "SHARD_UNAVAILABLE" },
    });
  });

  it("GET shards shows the stopped primary down and the others up", async () => {
    const view = await waitFor(async () => {
      const res = await call("GET", `/v1/databases/${DB}/shards`);
      const status = res.body.shards.map((s: { primary: { status: string } }) => s.primary.status);
      return status.join() === "up,down,up" ? res.body : undefined;
    });
    expect(view.shards[1].primary.error).toBe("not answering");
  });

  it("a readOnly read skips a replica that is down and is served by the primary", async () => {
    await waitFor(async () => {
      const res = await call("GET", `/v1/databases/${DB}/shards`);
      return res.body.shards[0].replicas[0].status === "down";
    });
    const res = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT v FROM kv WHERE k = $1",
      params: [keyOn(0)],
      key: { type: "bigint", value: keyOn(0) },
      readOnly: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.server).toBe("primary");
    expect(res.body.rows).toEqual([{ v: "before" }]);
    const view = await call("GET", `/v1/databases/${DB}/shards`);
    expect(view.body.shards[0].replicas[0]).toMatchObject({ status: "down", eligible: false });
  });
});
