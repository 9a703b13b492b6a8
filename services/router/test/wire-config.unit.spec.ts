import { configIssues, parseConfig } from "@dbplane/service-kit";
import { describe, expect, it } from "vitest";
import { configSchema } from "../src/config.ts";

const base = {
  DBPLANE_JWT_SECRET: "x".repeat(32),
  DBPLANE_PG_URL: "postgres://postgres@127.0.0.1:5432/postgres",
  DBPLANE_REDIS_URL: "redis://127.0.0.1:6379",
};

const problems = (env: Record<string, string>) => configIssues(configSchema, env).map((i) => i.variable);

describe("router wire endpoint config", () => {
  it("listens on 6432 with 20 connections per shard server, without TLS, by default", () => {
    expect(parseConfig(configSchema, base)).toMatchObject({
      DBPLANE_ROUTER_PG_PORT: 6432,
      DBPLANE_ROUTER_WIRE_POOL_SIZE: 20,
    });
  });

  it("takes the TLS certificate and key together, never one alone", () => {
    expect(problems({ ...base, DBPLANE_ROUTER_TLS_CERT: "/tls/tls.crt" })).toEqual([
      "DBPLANE_ROUTER_TLS_KEY",
    ]);
    expect(problems({ ...base, DBPLANE_ROUTER_TLS_KEY: "/tls/tls.key" })).toEqual(["DBPLANE_ROUTER_TLS_KEY"]);
    expect(
      problems({ ...base, DBPLANE_ROUTER_TLS_CERT: "/tls/tls.crt", DBPLANE_ROUTER_TLS_KEY: "/tls/tls.key" }),
    ).toEqual([]);
  });

  it("names a port or pool size out of range", () => {
    expect(
      problems({ ...base, DBPLANE_ROUTER_PG_PORT: "70000", DBPLANE_ROUTER_WIRE_POOL_SIZE: "0" }).sort(),
    ).toEqual(["DBPLANE_ROUTER_PG_PORT", "DBPLANE_ROUTER_WIRE_POOL_SIZE"]);
  });
});
