import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  authEnv,
  ConfigError,
  httpEnv,
  logEnv,
  natsEnv,
  parseConfig,
  postgresEnv,
  redisEnv,
  shutdownEnv,
} from "../src/index.ts";

const schema = z.object({
  ...httpEnv,
  ...logEnv,
  ...authEnv,
  ...shutdownEnv,
  ...natsEnv,
  ...postgresEnv,
  ...redisEnv,
  DBPLANE_DRY_RUN: z.stringbool().default(false),
});

const SECRET = "a-secret-of-at-least-32-characters-long";
const valid = {
  DBPLANE_JWT_SECRET: SECRET,
  DBPLANE_PG_URL: "postgres://postgres@127.0.0.1:5432/postgres",
  DBPLANE_REDIS_URL: "redis://127.0.0.1:6379",
};

function issuesOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    parseConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  it("applies the defaults a pod relies on", () => {
    const config = parseConfig(schema, valid);
    expect(config).toMatchObject({
      DBPLANE_HTTP_HOST: "0.0.0.0",
      DBPLANE_HTTP_PORT: 8080,
      DBPLANE_LOG_LEVEL: "info",
      DBPLANE_SHUTDOWN_DELAY_MS: 5000,
      DBPLANE_SHUTDOWN_TIMEOUT_MS: 45000,
      DBPLANE_NATS_URL: ["nats://127.0.0.1:4222"],
      DBPLANE_STREAM_REPLICAS: 1,
      DBPLANE_DRY_RUN: false,
    });
    expect(config.DBPLANE_NATS_NAMESPACE).toBeUndefined();
  });

  it("coerces numbers, booleans and a comma-separated NATS seed list", () => {
    const config = parseConfig(schema, {
      ...valid,
      DBPLANE_HTTP_PORT: "7101",
      DBPLANE_DRY_RUN: "yes",
      DBPLANE_NATS_URL: "nats://a:4222, nats://b:4222,tls://c:4222",
      DBPLANE_NATS_NAMESPACE: "t_abc",
      DBPLANE_STREAM_REPLICAS: "3",
    });
    expect(config.DBPLANE_HTTP_PORT).toBe(7101);
    expect(config.DBPLANE_DRY_RUN).toBe(true);
    expect(config.DBPLANE_NATS_URL).toEqual(["nats://a:4222", "nats://b:4222", "tls://c:4222"]);
    expect(config.DBPLANE_STREAM_REPLICAS).toBe(3);
  });

  it("treats an empty variable as unset, so the default applies", () => {
    expect(parseConfig(schema, { ...valid, DBPLANE_HTTP_PORT: "" }).DBPLANE_HTTP_PORT).toBe(8080);
  });

  it("names every wrong and missing variable at once", () => {
    const error = issuesOf({
      DBPLANE_HTTP_PORT: "99999",
      DBPLANE_LOG_LEVEL: "loud",
      DBPLANE_DRY_RUN: "perhaps",
      DBPLANE_NATS_URL: "http://nats:4222",
      DBPLANE_STREAM_REPLICAS: "zero",
      DBPLANE_REDIS_URL: "redis://127.0.0.1:6379",
    });
    const variables = error.issues.map((issue) => issue.variable).sort();
    expect(variables).toEqual([
      "DBPLANE_DRY_RUN",
      "DBPLANE_HTTP_PORT",
      "DBPLANE_JWT_SECRET",
      "DBPLANE_LOG_LEVEL",
      "DBPLANE_NATS_URL",
      "DBPLANE_PG_URL",
      "DBPLANE_STREAM_REPLICAS",
    ]);
    expect(error.issues.find((i) => i.variable === "DBPLANE_PG_URL")!.problem).toBe(
      "is required but not set",
    );
    expect(error.issues.find((i) => i.variable === "DBPLANE_JWT_SECRET")!.problem).toBe(
      "is required but not set",
    );
    for (const variable of variables) expect(error.message).toContain(variable);
    expect(error.message).toContain("7 problems");
  });

  it("never puts secret values or URL passwords in the message", () => {
    const error = issuesOf({
      ...valid,
      DBPLANE_JWT_SECRET: "too-short-s3cr3t",
      DBPLANE_PG_URL: "mysql://admin:pg-hunter2@db:3306/app",
      DBPLANE_REDIS_URL: "http://default:redis-pa55word@cache:6379",
    });
    expect(error.issues.map((i) => i.variable).sort()).toEqual([
      "DBPLANE_JWT_SECRET",
      "DBPLANE_PG_URL",
      "DBPLANE_REDIS_URL",
    ]);
    expect(error.issues.find((i) => i.variable === "DBPLANE_JWT_SECRET")!.problem).toContain("at least 32");
    const everything = `${error.message}\n${JSON.stringify(error.issues)}`;
    for (const secret of ["too-short-s3cr3t", "pg-hunter2", "redis-pa55word"]) {
      expect(everything).not.toContain(secret);
    }
  });

  it("scrubs secret values even from a refinement that quotes its input", () => {
    const leaky = z.object({
      DBPLANE_API_TOKEN: z
        .string()
        .refine((v) => v.startsWith("tok_"), { error: (i) => `bad token ${String(i.input)}` }),
    });
    try {
      parseConfig(leaky, { DBPLANE_API_TOKEN: "leaked-token-value" });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).message).toContain("DBPLANE_API_TOKEN");
      expect((err as ConfigError).message).not.toContain("leaked-token-value");
    }
  });
});
