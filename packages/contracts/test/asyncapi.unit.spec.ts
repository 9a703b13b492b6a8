import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";
import { describe, expect, it } from "vitest";
import { buildAsyncApiDocument, catalog, renderAsyncApiYaml, shardReady } from "../src/index.ts";

const docPath = new URL("../../../docs/asyncapi.yaml", import.meta.url);
// DiagnosticSeverity.Error in @asyncapi/parser (spectral's numbering).
const ERROR = 0;

/** Every object key in a JSON value, with its path. */
function* keysOf(value: unknown, path = ""): Generator<[string, string]> {
  if (value === null || typeof value !== "object") return;
  for (const [key, inner] of Object.entries(value)) {
    yield [key, `${path}/${key}`];
    yield* keysOf(inner, `${path}/${key}`);
  }
}

describe("AsyncAPI document", () => {
  const document = buildAsyncApiDocument(catalog);

  it("parses with @asyncapi/parser without errors", async () => {
    const { document: parsed, diagnostics } = await new Parser().parse(renderAsyncApiYaml(catalog));
    const errors = diagnostics.filter((d) => d.severity === ERROR);
    expect(errors.map((d) => `${d.path.join(".")}: ${d.message}`)).toEqual([]);
    expect(parsed?.channels().length).toBe(catalog.length);
    expect(parsed?.operations().length).toBe(catalog.length);
  });

  it("has a channel, a message and an operation of the owning service per catalog entry", () => {
    for (const def of catalog) {
      expect(document.channels[def.subject]).toMatchObject({ address: def.subject });
      const message = document.components.messages[def.type] as Record<string, unknown>;
      expect(message).toMatchObject({
        name: def.type,
        summary: def.summary,
        contentType: "application/json",
      });
      expect(message.headers).toMatchObject({
        required: ["ce-id", "ce-type", "ce-source", "ce-subject", "ce-time", "ce-specversion"],
        properties: { "ce-type": { const: def.type } },
      });
      const action = def.kind === "command" ? "receive" : "send";
      expect(document.operations[`${def.service}.${action}.${def.name}`]).toMatchObject({ action });
    }
  });

  it("the shard.ready schema has no password-like field besides passwordRef", () => {
    const message = document.components.messages[shardReady.type] as { payload: unknown };
    const leaks = [...keysOf(message.payload)].filter(
      ([key]) => /password|secret/i.test(key) && key !== "passwordRef",
    );
    expect(leaks).toEqual([]);
    expect([...keysOf(message.payload)].some(([key]) => key === "passwordRef")).toBe(true);
  });

  it("docs/asyncapi.yaml is what the generator produces now (run `pnpm asyncapi`)", () => {
    expect(readFileSync(docPath, "utf8")).toBe(renderAsyncApiYaml(catalog));
  });

  it("renders the same bytes every time", () => {
    expect(renderAsyncApiYaml(catalog)).toBe(renderAsyncApiYaml([...catalog]));
  });
});
