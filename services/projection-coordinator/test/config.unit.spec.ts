import { describe, expect, it } from "vitest";
import { configSchema } from "../src/config.ts";

describe("coordinator config", () => {
  it("runs on a developer machine with nothing but the JWT secret set", () => {
    const config = configSchema.parse({ DBPLANE_JWT_SECRET: "x".repeat(32) });
    expect(config).toMatchObject({
      DBPLANE_HTTP_PORT: 8080,
      DBPLANE_PG_URL: "postgres://postgres@127.0.0.1:5432/postgres",
      DBPLANE_PROJECTION_SCHEMA: "projections",
      DBPLANE_PROJECTIONS: ["fleet", "audit"],
    });
  });

  it("requires the JWT secret: rebuild and retry are mutating routes", () => {
    const result = configSchema.safeParse({});
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join("."))).toEqual(["DBPLANE_JWT_SECRET"]);
  });

  it("names every bad variable", () => {
    const result = configSchema.safeParse({
      DBPLANE_PROJECTION_SCHEMA: "Bad-Name",
      DBPLANE_PROJECTION_HEARTBEAT_MS: "1000",
      DBPLANE_PROJECTION_MEMBER_TTL_MS: "1000",
      DBPLANE_JWT_SECRET: "short",
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join("."))).toEqual(
      expect.arrayContaining(["DBPLANE_PROJECTION_SCHEMA", "DBPLANE_JWT_SECRET"]),
    );
  });
});
