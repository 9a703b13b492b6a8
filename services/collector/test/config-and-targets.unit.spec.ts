import { parseConfig } from "@dbplane/service-kit";
import { describe, expect, it } from "vitest";
import { configSchema } from "../src/config.ts";
import { staticTargets } from "../src/domain/static-targets.ts";
import { discoveredTarget, shardTargets } from "../src/domain/target-sources.ts";

describe("configuration", () => {
  it("runs with no variables at all on a developer machine", () => {
    const config = parseConfig(configSchema, {});
    expect(config.DBPLANE_REDIS_URL).toBe("redis://127.0.0.1:6379");
    expect(config.DBPLANE_COLLECTOR_TARGETS).toEqual([]);
    expect(config.DBPLANE_COLLECTOR_INTERVAL_MS).toBe(15_000);
  });

  it("names each bad variable and the field inside the targets JSON, never the value", () => {
    const attempt = () =>
      parseConfig(configSchema, {
        DBPLANE_COLLECTOR_TARGETS: JSON.stringify([{ name: "x", url: "ftp://u:topsecret@h/db" }]),
        DBPLANE_COLLECTOR_LEASE_MS: "50",
      });
    expect(attempt).toThrow(/DBPLANE_COLLECTOR_TARGETS: 0\.url: must be a postgres/);
    expect(attempt).toThrow(/DBPLANE_COLLECTOR_LEASE_MS/);
    expect(attempt).not.toThrow(/topsecret/);
  });
});

describe("targets", () => {
  it("keeps a static target's password out of its spec", () => {
    const { specs, passwords } = staticTargets([
      { name: "orders", url: "postgres://app:pa%40ss@db:5432/orders" },
    ]);
    expect(specs).toEqual([
      {
        id: "orders",
        engine: "postgresql",
        source: "static",
        url: "postgres://app@db:5432/orders",
        credential: { kind: "config" },
      },
    ]);
    expect(passwords.get("orders")).toBe("pa@ss");
  });

  it("makes one target per server of a shard, and none for a discovered database dbplane manages", () => {
    const specs = shardTargets({
      database: "shop",
      shard: 1,
      primary: { host: "shop-1", port: 5432 },
      replicas: [{ host: "shop-1-r", port: 5432 }],
      dbname: "shop",
      user: "app",
      passwordRef: { kind: "file", path: "/pw" },
    });
    expect(specs.map((s) => [s.id, s.shard?.role, s.url])).toEqual([
      ["shard:shop:1:shop-1:5432", "primary", "postgresql://app@shop-1:5432/shop"],
      ["shard:shop:1:shop-1-r:5432", "replica", "postgresql://app@shop-1-r:5432/shop"],
    ]);
    // A provisioner that made a monitoring role: the collector logs in as it, never as the shard's user.
    const monitored = shardTargets({
      database: "shop",
      shard: 1,
      primary: { host: "shop-1", port: 5432 },
      replicas: [],
      dbname: "shop",
      user: "dbplane",
      passwordRef: { kind: "file", path: "/superuser-pw" },
      monitoring: { user: "dbplane_monitor", passwordRef: { kind: "file", path: "/monitor-pw" } },
    });
    expect(monitored.map((s) => [s.url, s.credential])).toEqual([
      ["postgresql://dbplane_monitor@shop-1:5432/shop", { kind: "file", path: "/monitor-pw" }],
    ]);
    const found = {
      id: "uid-1",
      driver: "kubernetes" as const,
      engine: "postgresql" as const,
      endpoint: { host: "pg.ns.svc", port: 5432 },
      observedAt: new Date().toISOString(),
    };
    expect(discoveredTarget({ ...found, managedBy: "dbplane" }, { user: "postgres" })).toBeUndefined();
    expect(discoveredTarget(found, { user: "monitor" })?.url).toBe(
      "postgresql://monitor@pg.ns.svc:5432/postgres",
    );
  });
});
