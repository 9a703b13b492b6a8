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
    });
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
