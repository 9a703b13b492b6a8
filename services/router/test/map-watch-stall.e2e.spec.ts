// A router replica whose shard map watch goes silent (its server-side consumer lost) notices the
// bucket ahead of it: readiness fails while it is behind, the watch re-subscribes from the last
// map it received, the new version is installed, and the resume is counted.

import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const DB = "stalled";
let world: RouterWorld;
let follower: string;
let writer: string;

beforeAll(async () => {
  world = await createRouterWorld(2);
  follower = (
    await world.startReplica({
      // Behind for more than 1 s fails readiness; the watch re-subscribes only after 5 s.
      env: { DBPLANE_ROUTER_MAP_BEHIND_MAX_MS: "1000", DBPLANE_ROUTER_MAP_STALL_MS: "5000" },
    })
  ).base;
  writer = (await world.startReplica()).base;
  await world.announce(DB);
  for (const url of [follower, writer]) await waitForMap(url, world.token(), DB);
});
afterAll(async () => {
  await world?.dispose();
});

describe("shard map watch stall", () => {
  it("fails readiness while behind the bucket, then resumes and installs the missed version", async () => {
    // Through the JetStream API subjects: the router depends on the bus, not on nats.js.
    const { nc } = world.bus;
    const stream = `KV_${world.nats.namespace}_dbplane_shardmaps`;
    const { consumers } = (await nc.request(`$JS.API.CONSUMER.NAMES.${stream}`)).json<{
      consumers: string[];
    }>();
    expect(consumers.length).toBeGreaterThanOrEqual(2);
    await Promise.all(
      consumers.map((name: string) => nc.request(`$JS.API.CONSUMER.DELETE.${stream}.${name}`)),
    );

    const v1 = await waitForMap(writer, world.token(), DB);
    const ranges = v1.shards.flatMap((s: { shard: number; ranges: { from: string; to: string }[] }) =>
      s.ranges.map((r) => ({ shard: 1 - s.shard, ...r })),
    );
    const published = await api(writer, world.token(), "POST", `/v1/databases/${DB}/shard-map`, {
      expectedVersion: 1,
      ranges,
    });
    expect(published.status).toBe(201);

    const readiness: { status: number; body: string }[] = [];
    await waitFor(
      async () => {
        const res = await fetch(`${follower}/health/ready`);
        readiness.push({ status: res.status, body: await res.text() });
        const map = await api(follower, world.token(), "GET", `/v1/databases/${DB}/shards`);
        return res.status === 200 && map.body.version === 2;
      },
      { what: "the follower back in service on version 2", timeoutMs: 30_000, intervalMs: 100 },
    );
    const unready = readiness.filter((r) => r.status === 503);
    expect(unready.length).toBeGreaterThan(0);
    expect(JSON.parse(unready[0]?.body ?? "{}")).toMatchObject({ failing: ["shard maps"] });

    const metrics = await (await fetch(`${follower}/metrics`)).text();
    expect(metrics).toMatch(/dbplane_router_shard_map_watch_resumes_total\{reason="stalled"\} [1-9]/);
    expect(metrics).toMatch(/dbplane_router_shard_map_behind_seconds 0\b/);
  });
});
