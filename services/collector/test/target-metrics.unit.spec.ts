import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { TargetMetrics } from "../src/collection/target-metrics.ts";

describe("per-target metrics", () => {
  it("exports gauges as seen and counters as the sum of reset-safe increases, only while owned", async () => {
    const registry = new Registry();
    const metrics = new TargetMetrics(registry);
    const counters = [{ metric: "pgCommits" as const, value: 500 }];
    metrics.record("db1", "postgresql", [{ metric: "sizeBytes", value: 4096 }], counters, undefined);
    metrics.record("db1", "postgresql", [{ metric: "sizeBytes", value: 8192 }], counters, { pgCommits: 30 });
    metrics.recordStatus(
      "db1",
      "postgresql",
      { state: "degraded", reason: "x" },
      0.01,
      metrics.gaugesOf("db1"),
    );
    const text = await registry.metrics();
    expect(text).toContain('db_size_bytes{target="db1",db_system="postgresql"} 8192');
    expect(text).toContain('postgresql_commits_total{target="db1",db_system="postgresql"} 30');
    expect(text).toContain('dbplane_collector_target_health{target="db1",db_system="postgresql"} 1');
    metrics.forget("db1");
    expect(await registry.metrics()).not.toContain('target="db1"');
  });
});
