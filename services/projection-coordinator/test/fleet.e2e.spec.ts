import {
  appDiscovered,
  databaseDiscovered,
  databaseReady,
  databaseRequested,
  shardLoadSampled,
  targetHealthChanged,
} from "@dbplane/contracts";
import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditPage, type FleetView, json, type Problem } from "./api-types.ts";
import { type CoordinatorWorld, createCoordinatorWorld, type Replica } from "./coordinator-world.ts";

const at = "2026-11-23T10:00:00.000Z";

describe("fleet and audit read models", () => {
  let world: CoordinatorWorld;
  let replica: Replica;
  beforeAll(async () => {
    world = await createCoordinatorWorld();
    replica = await world.startReplica({ env: { DBPLANE_PROJECTIONS: "fleet,audit" } });
    const found = "local:127.0.0.1:5432/orders";
    await world.publish(
      databaseDiscovered,
      {
        id: found,
        driver: "local",
        engine: "postgresql",
        endpoint: { host: "127.0.0.1", port: 5432 },
        dbname: "orders",
        observedAt: at,
      },
      { subject: found },
    );
    await world.publish(
      appDiscovered,
      {
        id: "app-1",
        name: "shop",
        workload: { namespace: "default", kind: "Deployment", name: "shop", uid: "u1" },
        databases: [
          { databaseId: found, endpoint: { host: "127.0.0.1", port: 5432 }, dbname: "orders", via: "env" },
        ],
        observedAt: at,
      },
      { subject: "app-1" },
    );
    await world.publish(
      targetHealthChanged,
      { target: found, engine: "postgresql", state: "degraded", reason: "replication lag", changedAt: at },
      { subject: found },
    );
    await world.publish(
      databaseRequested,
      { name: "billing", shards: 2, postgresVersion: 17, version: 1 },
      { subject: "billing" },
    );
    const shard = (n: number) => ({
      shard: n,
      primary: { host: "127.0.0.1", port: 6000 + n },
      replicas: [],
      dbname: "billing",
      user: "billing",
      passwordRef: { kind: "file" as const, path: "/var/lib/dbplane/billing" },
    });
    await world.publish(
      databaseReady,
      { name: "billing", version: 1, postgresVersion: 17, shards: [shard(0), shard(1)] },
      { subject: "billing" },
    );
    // A provisioned database's health is its shards' servers' (the collector's target ids).
    for (const [n, state] of [
      [0, "up"],
      [1, "down"],
    ] as const) {
      const target = `shard:billing:${n}:127.0.0.1:${6000 + n}`;
      await world.publish(
        targetHealthChanged,
        { target, engine: "postgresql", state, reason: `probe says ${state}`, changedAt: at },
        { subject: target },
      );
    }
    await world.publish(
      shardLoadSampled,
      {
        database: "billing",
        shard: 1,
        windowSeconds: 10,
        transactionsPerSecond: 42,
        tuplesPerSecond: 100,
        connections: 3,
        sampledAt: at,
      },
      { subject: "billing" },
    );
  });
  afterAll(async () => {
    await world.dispose();
  });

  it("shows databases with health, shards and the apps using them", async () => {
    const fleet = await waitFor(
      async () => {
        const view = await json<FleetView>(fetch(`${replica.base}/v1/fleet`));
        // Every event projected: the units project subjects in parallel, so one subject's
        // events (orders' health) may land after another's (billing's load).
        const [billing, orders] = view.databases;
        return billing?.shards.some((s) => s.transactionsPerSecond) &&
          billing.shards.every((s) => s.health) &&
          orders?.health &&
          view.apps.length === 1
          ? view
          : undefined;
      },
      { timeoutMs: 20_000, what: "the fleet to show both databases" },
    );
    const [billing, orders] = fleet.databases;
    expect(orders).toMatchObject({
      origin: "discovery",
      dbname: "orders",
      state: "present",
      health: { state: "degraded" },
      apps: [{ id: "app-1", name: "shop" }],
    });
    expect(billing).toMatchObject({
      id: "dbplane:billing",
      origin: "provisioner",
      desiredShards: 2,
      // The worst of its servers, naming which.
      health: { state: "down", target: "shard:billing:1:127.0.0.1:6001" },
    });
    expect(billing!.shards.find((s) => s.shard === 1)).toMatchObject({
      transactionsPerSecond: 42,
      connections: 3,
      health: { state: "down", reason: "probe says down" },
    });
    expect(billing!.shards.find((s) => s.shard === 0)).toMatchObject({ health: { state: "up" } });
    expect(fleet.apps).toMatchObject([{ id: "app-1", name: "shop", lost: false }]);
  });

  it("pages the audit log by time, type and subject", async () => {
    const type = databaseDiscovered.type;
    const page = await json<AuditPage>(fetch(`${replica.base}/v1/audit?type=${type}`));
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({
      type,
      subject: "local:127.0.0.1:5432/orders",
      data: { dbname: "orders" },
    });
    const first = await json<AuditPage>(fetch(`${replica.base}/v1/audit?subject=billing&limit=1`));
    expect(first.items).toHaveLength(1);
    const second = await json<AuditPage>(
      fetch(`${replica.base}/v1/audit?subject=billing&limit=1&cursor=${first.nextCursor}`),
    );
    expect(second.items[0]!.seq).toBeGreaterThan(first.items[0]!.seq);
    const future = await json<AuditPage>(fetch(`${replica.base}/v1/audit?from=2999-01-01T00:00:00Z`));
    expect(future.items).toEqual([]);
  });

  it("answers 400 naming the field for bad query parameters", async () => {
    for (const [query, field] of [
      ["from=yesterday", "query.from"],
      ["limit=0", "query.limit"],
      ["cursor=bm9wZQ", "query.cursor"],
    ] as const) {
      const res = await fetch(`${replica.base}/v1/audit?${query}`);
      expect(res.status).toBe(400);
      const problem = await json<Problem>(res);
      expect(problem.errors.map((e) => e.field)).toContain(field);
    }
    const parked = await fetch(`${replica.base}/v1/parked?state=maybe`);
    expect(parked.status).toBe(400);
    expect((await json<Problem>(parked)).errors[0]!.field).toBe("query.state");
    const metrics = await (await fetch(`${replica.base}/metrics`)).text();
    expect(metrics).toContain("dbplane_projection_lag_events");
    expect(metrics).toContain("dbplane_projection_events_processed_total");
  });
});
