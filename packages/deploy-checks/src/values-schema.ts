import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse } from "yaml";

type Values = Record<string, unknown>;

function isMap(value: unknown): value is Values {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Helm's coalescing of a values file over the chart's values.yaml: maps merge key by key, a
 * `null` deletes the key, anything else (lists included) replaces.
 */
export function coalesceValues(base: Values, override: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete out[key];
    else if (isMap(value) && isMap(out[key])) out[key] = coalesceValues(out[key] as Values, value);
    else out[key] = value;
  }
  return out;
}

export function readValues(file: string): Values {
  const value = parse(readFileSync(file, "utf8"), { uniqueKeys: true }) as unknown;
  if (value === null || value === undefined) return {};
  if (!isMap(value)) throw new Error(`${file}: values must be a mapping`);
  return value;
}

/**
 * Validates values against the chart's values.schema.json the way helm sees them: the chart's
 * values.yaml alone, and each extra values file coalesced over it. Returns one line per error,
 * naming the file and the path of the offending key.
 */
export function validateValues(
  schemaFile: string,
  defaultsFile: string,
  overrideFiles: readonly string[],
): string[] {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, "utf8")) as object);
  const defaults = readValues(defaultsFile);
  const problems: string[] = [];
  for (const [name, values] of [
    [defaultsFile, defaults] as const,
    ...overrideFiles.map((file) => [file, coalesceValues(defaults, readValues(file))] as const),
  ]) {
    if (validate(values)) continue;
    for (const error of validate.errors ?? []) {
      const extra =
        error.keyword === "additionalProperties" ? ` (${String(error.params.additionalProperty)})` : "";
      problems.push(`${name}: ${error.instancePath || "/"} ${error.message ?? "is invalid"}${extra}`);
    }
  }
  return problems;
}
