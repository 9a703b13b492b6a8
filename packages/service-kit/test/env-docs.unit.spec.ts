import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ENV_BEGIN,
  ENV_END,
  envSchemaIn,
  envTableDrift,
  envVariables,
  renderEnvTable,
  withEnvTable,
} from "../src/env-docs.ts";
import { httpEnv, natsEnv, postgresEnv } from "../src/index.ts";

const list = z.string().transform((value) => value.split(","));

const schema = z
  .object({
    ...httpEnv,
    ...natsEnv,
    ...postgresEnv,
    DBPLANE_THING_SCHEMA: z.string().describe("PostgreSQL schema the thing owns.").default("thing"),
    DBPLANE_THING_TICK_MS: z.coerce.number().int().min(10).default(250).describe("How often | it ticks."),
    DBPLANE_THING_NAMES: list.default(["a", "b"]).describe("Names,\n  comma-separated."),
    DBPLANE_THING_TOKEN: z.string().min(1).optional().describe("A token; unset: none."),
    DBPLANE_THING_MODULES: list.default([]),
  })
  .superRefine(() => {});

const readme = `# thing\n\nProse.\n\n${ENV_BEGIN}\n${ENV_END}\n\nMore prose.\n`;

describe("env docs", () => {
  it("reads default, requiredness and description through every wrapper", () => {
    const byName = new Map(envVariables(schema).map((variable) => [variable.name, variable]));
    expect(byName.get("DBPLANE_HTTP_PORT")).toMatchObject({ defaultValue: "8080", required: false });
    expect(byName.get("DBPLANE_NATS_URL")).toMatchObject({ defaultValue: "nats://127.0.0.1:4222" });
    expect(byName.get("DBPLANE_NATS_NAMESPACE")).toMatchObject({ defaultValue: undefined, required: false });
    expect(byName.get("DBPLANE_PG_URL")).toMatchObject({ defaultValue: undefined, required: true });
    expect(byName.get("DBPLANE_THING_SCHEMA")).toMatchObject({
      defaultValue: "thing",
      description: "PostgreSQL schema the thing owns.",
    });
    expect(byName.get("DBPLANE_THING_TICK_MS")).toMatchObject({
      defaultValue: "250",
      description: "How often | it ticks.",
    });
    expect(byName.get("DBPLANE_THING_NAMES")).toMatchObject({ defaultValue: "a,b" });
    expect(byName.get("DBPLANE_THING_TOKEN")).toMatchObject({
      required: false,
      description: "A token; unset: none.",
    });
  });

  it("renders one escaped row per variable, in schema order", () => {
    const table = renderEnvTable(schema);
    const lines = table.trimEnd().split("\n");
    expect(lines.slice(0, 2)).toEqual(["| variable | default | description |", "|---|---|---|"]);
    expect(lines).toHaveLength(2 + Object.keys(schema.shape).length);
    // The shared fragments carry their own descriptions.
    expect(lines).toContainEqual(expect.stringMatching(/^\| `DBPLANE_PG_URL` \| required \| \S.* \|$/));
    expect(lines).toContain("| `DBPLANE_THING_TICK_MS` | `250` | How often \\| it ticks. |");
    expect(lines).toContain("| `DBPLANE_THING_NAMES` | `a,b` | Names, comma-separated. |");
    expect(lines).toContain("| `DBPLANE_THING_TOKEN` | — | A token; unset: none. |");
    expect(lines).toContain("| `DBPLANE_THING_MODULES` | — |  |");
  });

  it("writes between the markers only, and a written table passes the check", () => {
    const written = withEnvTable(readme, schema);
    expect(written.startsWith("# thing\n\nProse.\n\n")).toBe(true);
    expect(written.endsWith(`${ENV_END}\n\nMore prose.\n`)).toBe(true);
    expect(withEnvTable(written, schema)).toBe(written);
    expect(envTableDrift(written, schema)).toEqual([]);
  });

  it("fails the check when a variable is added to the schema without regenerating", () => {
    const written = withEnvTable(readme, schema);
    const grown = z.object({ ...schema.shape, DBPLANE_THING_NEW: z.string().default("x").describe("New.") });
    expect(envTableDrift(written, grown)).toEqual([
      "DBPLANE_THING_NEW is in the config schema but not in the table",
    ]);
  });

  it("fails the check on a changed default or description, and on a removed variable", () => {
    const written = withEnvTable(readme, schema);
    const changed = z.object({
      ...schema.shape,
      DBPLANE_THING_TICK_MS: z.coerce.number().int().default(500).describe("How often | it ticks."),
      DBPLANE_THING_SCHEMA: z.string().describe("Another text.").default("thing"),
    });
    expect(envTableDrift(written, changed)).toEqual([
      "DBPLANE_THING_SCHEMA differs from the config schema",
      "DBPLANE_THING_TICK_MS differs from the config schema",
    ]);
    const { DBPLANE_THING_TOKEN: _removed, ...rest } = schema.shape;
    expect(envTableDrift(written, z.object(rest))).toEqual([
      "DBPLANE_THING_TOKEN is in the table but not in the config schema",
    ]);
  });

  it("finds the object schema under a transform, and nothing in a non-object", () => {
    const resolved = schema.transform((env) => ({ ...env, resolved: true }));
    expect(envSchemaIn(resolved)).toBe(schema);
    expect(envSchemaIn(schema)).toBe(schema);
    expect(envSchemaIn(z.string())).toBeUndefined();
    expect(envSchemaIn({ shape: {} })).toBeUndefined();
  });

  it("reports a README without markers", () => {
    expect(envTableDrift("# thing\n", schema)).toEqual([
      `needs exactly one ${ENV_BEGIN} … ${ENV_END} pair around its env table`,
    ]);
  });
});
