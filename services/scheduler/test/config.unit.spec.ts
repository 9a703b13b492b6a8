import { configIssues, parseConfig } from "@dbplane/service-kit";
import { describe, expect, it } from "vitest";
import { configSchema } from "../src/config.ts";

const base = {
  DBPLANE_JWT_SECRET: "x".repeat(32),
  DBPLANE_PG_URL: "postgres://postgres@127.0.0.1:5432/postgres",
};

const problems = (env: Record<string, string>) => configIssues(configSchema, env).map((i) => i.variable);

describe("scheduler config", () => {
  it("has working defaults for the firing knobs", () => {
    const config = parseConfig(configSchema, base);
    expect(config).toMatchObject({
      DBPLANE_SCHEDULER_SCHEMA: "scheduler",
      DBPLANE_SCHEDULER_TICK_MS: 250,
      DBPLANE_SCHEDULER_HORIZON_MS: 2_000,
      DBPLANE_SCHEDULER_LEASE_MS: 15_000,
      DBPLANE_SCHEDULER_PUBLISH_CONCURRENCY: 16_384,
      DBPLANE_SCHEDULER_STATEMENT_TIMEOUT_MS: 30_000,
      DBPLANE_SCHEDULER_RUN_RETENTION: { count: 1_000, ageMs: 30 * 86_400_000 },
      DBPLANE_SCHEDULER_RUN_PRUNE_INTERVAL_MS: 60_000,
    });
  });

  it("reads run retention as count and/or age, or off", () => {
    const retention = (value: string) =>
      parseConfig(configSchema, { ...base, DBPLANE_SCHEDULER_RUN_RETENTION: value })
        .DBPLANE_SCHEDULER_RUN_RETENTION;
    expect(retention("count=50")).toEqual({ count: 50, ageMs: null });
    expect(retention("age=12h, count=7")).toEqual({ count: 7, ageMs: 12 * 3_600_000 });
    expect(retention("age=10m")).toEqual({ count: null, ageMs: 600_000 });
    expect(retention("off")).toEqual({ count: null, ageMs: null });
  });

  it.each([
    "count=0",
    "count=-1",
    "count=ten",
    "age=30",
    "age=5m",
    "age=1y",
    "count=5,count=6",
    "keep=5",
    "count",
    "count=5,",
  ])("names a run retention of %j", (value) => {
    expect(problems({ ...base, DBPLANE_SCHEDULER_RUN_RETENTION: value })).toEqual([
      "DBPLANE_SCHEDULER_RUN_RETENTION",
    ]);
  });

  it("reads the webhook allow-list (empty by default) and names an entry it cannot read", () => {
    const allow = parseConfig(configSchema, base).DBPLANE_SCHEDULER_WEBHOOK_ALLOW;
    expect(allow.hosts.size + allow.hostPorts.size + allow.suffixes.length + allow.cidrs.length).toBe(0);
    const listed = parseConfig(configSchema, {
      ...base,
      DBPLANE_SCHEDULER_WEBHOOK_ALLOW: "127.0.0.1,*.svc.local",
    });
    expect(listed.DBPLANE_SCHEDULER_WEBHOOK_ALLOW.suffixes).toEqual([".svc.local"]);
    expect(problems({ ...base, DBPLANE_SCHEDULER_WEBHOOK_ALLOW: "10.0.0.0/40" })).toEqual([
      "DBPLANE_SCHEDULER_WEBHOOK_ALLOW",
    ]);
  });

  it("names a statement timeout below a second or one that is not a number", () => {
    expect(problems({ ...base, DBPLANE_SCHEDULER_STATEMENT_TIMEOUT_MS: "500" })).toEqual([
      "DBPLANE_SCHEDULER_STATEMENT_TIMEOUT_MS",
    ]);
    expect(problems({ ...base, DBPLANE_SCHEDULER_STATEMENT_TIMEOUT_MS: "soon" })).toEqual([
      "DBPLANE_SCHEDULER_STATEMENT_TIMEOUT_MS",
    ]);
  });

  it("refuses a lease not shorter than the bus duplicate window (a re-fire would not be deduplicated)", () => {
    expect(problems({ ...base, DBPLANE_SCHEDULER_LEASE_MS: String(10 * 60_000) })).toEqual([
      "DBPLANE_SCHEDULER_LEASE_MS",
    ]);
  });

  it("refuses a horizon within a tick and a lease within the horizon, and lists every problem", () => {
    expect(
      problems({ ...base, DBPLANE_SCHEDULER_TICK_MS: "500", DBPLANE_SCHEDULER_HORIZON_MS: "400" }),
    ).toContain("DBPLANE_SCHEDULER_HORIZON_MS");
    expect(
      problems({
        DBPLANE_SCHEDULER_HORIZON_MS: "5000",
        DBPLANE_SCHEDULER_LEASE_MS: "4000",
        DBPLANE_SCHEDULER_SCHEMA: "Bad-Name",
      }),
    ).toEqual(expect.arrayContaining(["DBPLANE_JWT_SECRET", "DBPLANE_PG_URL", "DBPLANE_SCHEDULER_SCHEMA"]));
  });
});
