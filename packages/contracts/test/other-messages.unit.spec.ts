import { describe, expect, it } from "vitest";
import {
  appDiscovered,
  appLost,
  databaseDiscovered,
  parseMessageData,
  shardLoadSampled,
  targetHealthChanged,
  unitAssigned,
} from "../src/index.ts";
import { expectRejected } from "./payload-check.ts";

const at = "2026-01-01T00:00:00Z";

describe("discovery, collector and projection-coordinator messages", () => {
  it("discovery events", () => {
    const db = {
      id: "5f0c-uid",
      driver: "kubernetes",
      engine: "postgresql",
      endpoint: { host: "pg.shop.svc.cluster.local", port: 5432 },
      workload: { namespace: "shop", kind: "StatefulSet", name: "pg", uid: "5f0c-uid" },
      observedAt: at,
    };
    expect(parseMessageData(databaseDiscovered, db)).toEqual(db);
    expectRejected(databaseDiscovered, { ...db, driver: "docker" }, "driver");
    const app = {
      id: "a1",
      name: "checkout",
      workload: { namespace: "shop", kind: "Deployment", name: "checkout", uid: "a1" },
      databases: [{ databaseId: "5f0c-uid", endpoint: db.endpoint, dbname: "shop", via: "env" }],
      observedAt: at,
    };
    expect(parseMessageData(appDiscovered, app)).toEqual(app);
    expectRejected(
      appDiscovered,
      { ...app, databases: [{ ...app.databases[0], via: "secret-value" }] },
      "databases.0.via",
    );
    expect(parseMessageData(appLost, { id: "a1", observedAt: at })).toEqual({ id: "a1", observedAt: at });
  });

  it("collector events", () => {
    const health = {
      target: "5f0c-uid",
      engine: "postgresql",
      state: "down",
      previousState: "up",
      reason: "connection refused",
      changedAt: at,
    };
    expect(parseMessageData(targetHealthChanged, health)).toEqual(health);
    expectRejected(targetHealthChanged, { ...health, state: "sick" }, "state");
    const load = {
      database: "orders",
      shard: 2,
      windowSeconds: 15,
      transactionsPerSecond: 120.5,
      tuplesPerSecond: 4000,
      connections: 12,
      sampledAt: at,
    };
    expect(parseMessageData(shardLoadSampled, load)).toEqual(load);
    expectRejected(shardLoadSampled, { ...load, connections: 1.5 }, "connections");
  });

  it("projection-coordinator events", () => {
    const unit = { projection: "fleet", partition: 3, worker: "pc-7f9c", generation: 4, assignedAt: at };
    expect(parseMessageData(unitAssigned, unit)).toEqual(unit);
    expectRejected(unitAssigned, { ...unit, partition: -1 }, "partition");
  });
});
