// autoSplit: one shard of a 2-shard database made hot by a load generator. With the policy off
// the router only reports it (shard.hot); turned on, the next heat is split without an API call,
// and the reshard says why.
import { rebalanceCheck, scheduleJob } from "@dbplane/contracts";
import { hashShardKey } from "@dbplane/sharding";
import { lastMessageOn, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Body, createReshardWorld, DB, type ReshardWorld, setUpShop } from "./reshard-world.ts";

let w: ReshardWorld;

beforeAll(async () => {
  w = await createReshardWorld(3, {
    env: {
      DBPLANE_ROUTER_HOT_CHECK_MS: "200",
      // Two shards: their median is their mean, so only a multiple below 2 can single one out.
      DBPLANE_ROUTER_HOT_MULTIPLE: "1.5",
      DBPLANE_ROUTER_HOT_MIN_RATE: "0.5",
      DBPLANE_ROUTER_HOT_SUSTAIN_MS: "600",
      DBPLANE_ROUTER_HOT_COOLDOWN_MS: "1000",
    },
  });
  await setUpShop(w, { orders: 4_000 });
}, 120_000);
afterAll(() => w?.dispose());

/** A key whose hash is below 0: shard 0's under the first map. */
const hotKey = (() => {
  for (let k = 1; ; k++) if (hashShardKey("bigint", k) < 0n) return k;
})();

/** Queries on shard 0 through both routers until `done` says so. */
async function heat(done: () => Promise<boolean>, what: string) {
  await waitFor(
    async () => {
      await Promise.all(
        w.routers.map((r) =>
          fetch(`${r.base}/v1/databases/${DB}/query`, {
            method: "POST",
            headers: { authorization: `Bearer ${w.world.token()}`, "content-type": "application/json" },
            body: JSON.stringify({ sql: "SELECT 1 AS one", key: { type: "bigint", value: hotKey } }),
          }).then((res) => res.arrayBuffer()),
        ),
      );
      return done();
    },
    { what, timeoutMs: 60_000, intervalMs: 5 },
  );
}

describe("autoSplit", () => {
  it("is off by default: a hot shard is reported, nothing is split", async () => {
    const policy = await w.call("GET", `/v1/databases/${DB}/autosplit`);
    expect(policy.body).toMatchObject({ enabled: false });
    await heat(async () => {
      const events = await w.world.events();
      return events.some((e) => e.type.includes("router.shard.hot") && e.data.shard === 0);
    }, "shard.hot for shard 0");
    await waitFor(
      async () => {
        let off = 0;
        for (const r of w.routers) {
          const text = await (await fetch(`${r.base}/metrics`)).text();
          off += Number(
            /dbplane_router_autosplit_decisions_total\{decision="off"\} (\d+)/.exec(text)?.[1] ?? 0,
          );
        }
        return off > 0;
      },
      { what: "the policy's decision: off" },
    );
    expect((await w.call("GET", `/v1/databases/${DB}/reshards`)).body.reshards).toEqual([]);
  }, 90_000);

  it("schedules its rebalance check with the scheduler, and runs the policy when the check fires", async () => {
    const { names, nc } = w.world.bus;
    const job = await lastMessageOn(nc, names.stream("cmd"), names.subject(scheduleJob.subject));
    expect(job).toMatchObject({
      id: "dbplane-router-rebalance-check",
      schedule: { kind: "every", everyMs: 300_000 },
      target: { subject: rebalanceCheck.subject },
      misfire: "skip",
    });
    const offDecisions = async () => {
      let off = 0;
      for (const r of w.routers) {
        const text = await (await fetch(`${r.base}/metrics`)).text();
        off += Number(
          /dbplane_router_autosplit_decisions_total\{decision="off"\} (\d+)/.exec(text)?.[1] ?? 0,
        );
      }
      return off;
    };
    const before = await offDecisions();
    // What the scheduler publishes when the job fires; shard 0 is still hot in the window.
    await w.world.bus.publish(
      rebalanceCheck,
      {},
      { subject: "dbplane-router-rebalance-check", source: "dbplane/scheduler" },
    );
    await waitFor(async () => (await offDecisions()) > before, { what: "the check's decision" });
    expect((await w.call("GET", `/v1/databases/${DB}/reshards`)).body.reshards).toEqual([]);
  });

  it("rejects a policy with a wrong field", async () => {
    const res = await w.call("PUT", `/v1/databases/${DB}/autosplit`, { enabled: true, maxShards: 1 });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain("maxShards");
  });

  it("turned on: the hot shard is split without an API call, and the reshard says why", async () => {
    const put = await w.call("PUT", `/v1/databases/${DB}/autosplit`, { enabled: true, maxShards: 4 });
    expect(put.status).toBe(200);
    let reshards: Body[] = [];
    await heat(async () => {
      reshards = (await w.call("GET", `/v1/databases/${DB}/reshards`)).body.reshards;
      return reshards.length > 0;
    }, "an automatic reshard");
    expect(reshards[0]).toMatchObject({ sourceShard: 0, trigger: { by: "auto" } });
    expect(reshards[0].trigger.reason).toMatch(/^hot: query rate/);
    const done = await waitFor(
      async () => {
        const r = (await w.call("GET", `/v1/databases/${DB}/reshards/${reshards[0].id}`)).body;
        if (r.state === "failed") throw new Error(r.error);
        return r.state === "completed" && r;
      },
      { what: "the automatic split", timeoutMs: 120_000, intervalMs: 200 },
    );
    expect(done.targetShard).toBe(2);
    const started = (await w.world.events()).find(
      (e) => e.type.includes("reshard.started") && e.data.reshardId === done.id,
    );
    expect(started?.data).toMatchObject({ trigger: { by: "auto" } });
  }, 180_000);
});
