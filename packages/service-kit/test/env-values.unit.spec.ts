import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  authEnv,
  baseEnv,
  ConfigError,
  envVar,
  localPostgresEnv,
  localRedisEnv,
  natsEnv,
  parseConfig,
  readOnlyAuthEnv,
} from "../src/index.ts";

const schema = z.object({
  POOL_SIZE: envVar.int(2, 200).default(10),
  TICK_MS: envVar.ms(10, 60_000).default(250),
  SCHEMA: envVar.identifier().default("jobs"),
  NAMESPACE: envVar.dnsLabel().optional(),
  NAMES: envVar.list().prefault("a, b"),
  SERVERS: envVar.list(envVar.url(["postgres:"]), "must be comma-separated postgres:// URLs").optional(),
  TARGETS: envVar.json(z.array(z.object({ url: envVar.url(["postgres:"]) }))).prefault("[]"),
});

function problems(env: NodeJS.ProcessEnv): Record<string, string> {
  try {
    parseConfig(schema, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return Object.fromEntries(err.issues.map((issue) => [issue.variable, issue.problem]));
  }
  return {};
}

describe("envVar", () => {
  it("parses numbers, names, lists and JSON, with defaults written as a user would set them", () => {
    expect(parseConfig(schema, {})).toEqual({
      POOL_SIZE: 10,
      TICK_MS: 250,
      SCHEMA: "jobs",
      NAMES: ["a", "b"],
      TARGETS: [],
    });
    expect(
      parseConfig(schema, {
        POOL_SIZE: "12",
        NAMESPACE: "shop",
        NAMES: " x,,y ",
        SERVERS: "postgres://a/x, postgres://b/y",
        TARGETS: '[{"url":"postgres://h/db"}]',
      }),
    ).toMatchObject({
      POOL_SIZE: 12,
      NAMESPACE: "shop",
      NAMES: ["x", "y"],
      SERVERS: ["postgres://a/x", "postgres://b/y"],
      TARGETS: [{ url: "postgres://h/db" }],
    });
  });

  it("names every bad variable with what is wrong, and a bad JSON field by its path", () => {
    expect(
      problems({
        POOL_SIZE: "1.5",
        TICK_MS: "5",
        SCHEMA: "Bad-Name",
        NAMESPACE: "Not_A_Label",
        SERVERS: "postgres://a/x,mysql://b/y",
        TARGETS: '[{"url":"ftp://u:topsecret@h/db"}]',
      }),
    ).toEqual({
      POOL_SIZE: expect.stringMatching(/expected int/),
      TICK_MS: expect.stringMatching(/>=10/),
      SCHEMA: "must be a lower-case PostgreSQL identifier",
      NAMESPACE: "must be a DNS-1123 label",
      SERVERS: "must be comma-separated postgres:// URLs",
      TARGETS: "0.url: must be a postgres:// URL",
    });
    expect(problems({ TARGETS: "{not json" })).toEqual({ TARGETS: "must be JSON" });
  });

  it("describes every shared variable, default included, for the generated env tables", () => {
    const shared = { ...baseEnv, ...authEnv, ...readOnlyAuthEnv, ...localPostgresEnv, ...localRedisEnv };
    for (const [name, field] of Object.entries(shared)) {
      expect(field.description, name).toMatch(/\.$/);
    }
    const nats = z.toJSONSchema(z.object(natsEnv), { io: "input" });
    expect(nats.properties?.DBPLANE_NATS_URL).toMatchObject({ default: "nats://127.0.0.1:4222" });
  });
});
