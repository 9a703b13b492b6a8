// Issue 16, item 5 (review finding 9): a shard behind a half-open socket (a frozen host: connected,
// never answering) must cost at most the router's deadline. Its health turns down while every
// other shard's health keeps being probed, and a scatter with allowPartial answers with the others.

import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "../router-world.ts";
import { startTcpProxy, type TcpProxy } from "../tcp-proxy.ts";

const DB = "frozen";
let world: RouterWorld;
let base: string;
let proxy: TcpProxy;
const call = (method: string, path: string, body?: unknown) => api(base, world.token(), method, path, body);

interface ServerView {
  status: string;
  checkedAt?: string;
}
const shardsView = async () =>
  (await call("GET", `/v1/databases/${DB}/shards`)).body.shards as { shard: number; primary: ServerView }[];

beforeAll(async () => {
  world = await createRouterWorld(2);
  proxy = await startTcpProxy("127.0.0.1", world.shards[1]!.port);
  base = (
    await world.startReplica({
      env: {
        DBPLANE_ROUTER_STATEMENT_TIMEOUT_MS: "1000",
        DBPLANE_ROUTER_CONNECT_TIMEOUT_MS: "1000",
        DBPLANE_ROUTER_HEALTH_INTERVAL_MS: "200",
      },
    })
  ).base;
  await world.announce(DB, { ports: [undefined, proxy.port] });
  await waitForMap(base, world.token(), DB);
  // Both shards probed and queried once, so each pool holds an open connection to freeze.
  await waitFor(async () => (await shardsView()).every((s) => s.primary.status === "up"), {
    what: "both shards up",
  });
  expect((await call("POST", `/v1/databases/${DB}/query`, { sql: "SELECT 1 AS one" })).status).toBe(200);
});
afterAll(async () => {
  await proxy?.stop().catch(() => {});
  await world?.dispose();
});

describe("a shard that stops answering without closing", () => {
  it("is marked down while the other shard's health keeps being probed", async () => {
    proxy.blackHole();
    const frozenAt = new Date().toISOString();
    await waitFor(
      async () => {
        const [healthy, frozen] = await shardsView();
        return frozen?.primary.status === "down" && (healthy?.primary.checkedAt ?? "") > frozenAt;
      },
      { what: "shard 1 down and shard 0 still probed", timeoutMs: 20_000 },
    );
  });

  it("a scatter with allowPartial answers with the shards that answer", async () => {
    const res = await call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT 1 AS one",
      allowPartial: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.complete).toBe(false);
    expect(res.body.rows).toEqual([{ one: 1 }]);
    const failed = res.body.shards.find((s: { shard: number }) => s.shard === 1);
    expect(failed.error).toMatchObject({ status: 503, code: "SHARD_UNAVAILABLE" });
  });

  it("a keyed statement on the frozen shard answers 503; the other shard keeps serving", async () => {
    const keyed = (value: number) =>
      call("POST", `/v1/databases/${DB}/query`, { sql: "SELECT 1 AS one", key: { type: "bigint", value } });
    const answers = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(keyed));
    const statuses = new Set(answers.map((a) => a.status));
    expect([...statuses].sort()).toEqual([200, 503]);
  });
});
