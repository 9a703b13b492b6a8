/**
 * The environment table of a service README, generated from the service's config schema so the
 * two cannot drift: one row per variable with its default and its `.describe()` text. The table
 * sits between {@link ENV_BEGIN} and {@link ENV_END}; everything else in the README is prose.
 *
 * Schemas are read structurally (`_zod.def`), not with `instanceof`, so a schema built by another
 * copy of zod in a service's node_modules reads the same.
 */

export const ENV_BEGIN = "<!-- env:begin -->";
export const ENV_END = "<!-- env:end -->";

/** One variable of a config schema, as the README shows it. */
export interface EnvVariable {
  readonly name: string;
  /** The default rendered as one would set it, or undefined when there is none. */
  readonly defaultValue: string | undefined;
  /** No default and not optional: the service does not start without it. */
  readonly required: boolean;
  readonly description: string;
}

interface SchemaNode {
  readonly _zod: { readonly def: { readonly type: string } & Record<string, unknown> };
  readonly description?: string | undefined;
}

/** A zod object schema (`z.object({...})`, refined or not) as seen from outside zod. */
export interface EnvSchema {
  readonly shape: Readonly<Record<string, unknown>>;
}

function isSchemaNode(value: unknown): value is SchemaNode {
  const zod = (value as { _zod?: { def?: { type?: unknown } } } | null)?._zod;
  return typeof zod?.def?.type === "string";
}

/**
 * The zod object schema in `value` — the object itself (refined or not), or the object a
 * `.transform()`/`.pipe()` starts from — or undefined when `value` is not one.
 */
export function envSchemaIn(value: unknown): EnvSchema | undefined {
  let node = value;
  while (isSchemaNode(node) && node._zod.def.type === "pipe") node = node._zod.def.in;
  if (!isSchemaNode(node) || node._zod.def.type !== "object") return undefined;
  return typeof node._zod.def.shape === "object" ? (node as unknown as EnvSchema) : undefined;
}

// Wrappers a variable's schema may sit in; the description may be on any layer, so walk them all.
const WRAPPERS = new Set(["default", "prefault", "optional", "nullable", "readonly", "catch"]);

function renderDefault(value: unknown): string {
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value.join(",");
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
    return String(value);
  return JSON.stringify(value);
}

/** The variables of `schema`, in declaration order. */
export function envVariables(schema: EnvSchema): EnvVariable[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    let description = "";
    let defaultValue: string | undefined;
    let optional = false;
    let node: unknown = field;
    while (isSchemaNode(node)) {
      const def = node._zod.def;
      if (!description && node.description) description = node.description;
      if ((def.type === "default" || def.type === "prefault") && defaultValue === undefined) {
        defaultValue = renderDefault(def.defaultValue);
      }
      if (def.type === "optional") optional = true;
      if (WRAPPERS.has(def.type)) node = def.innerType;
      else if (def.type === "pipe") node = def.in;
      else break;
    }
    return { name, defaultValue, required: defaultValue === undefined && !optional, description };
  });
}

const cell = (text: string) => text.replace(/\s+/g, " ").replaceAll("|", "\\|").trim();
const code = (text: string) => (text.includes("`") ? `\`\` ${text} \`\`` : `\`${text}\``);

/** The markdown table (no markers, trailing newline included). */
export function renderEnvTable(schema: EnvSchema): string {
  const rows = envVariables(schema).map((variable) => {
    const fallback = variable.required ? "required" : "—";
    // An empty default (`[]`, "") is the same as unset: parseConfig reads "" as unset.
    const defaultCell = variable.defaultValue ? code(cell(variable.defaultValue)) : fallback;
    return `| \`${variable.name}\` | ${defaultCell} | ${cell(variable.description)} |`;
  });
  return ["| variable | default | description |", "|---|---|---|", ...rows, ""].join("\n");
}

/** Thrown when a README has no (or broken) env markers. */
export class EnvMarkersError extends Error {
  override readonly name = "EnvMarkersError";
  readonly code = "ENV_MARKERS_MISSING";
}

function markerRange(readme: string): { start: number; end: number } {
  const begin = readme.indexOf(ENV_BEGIN);
  const end = readme.indexOf(ENV_END);
  if (begin < 0 || end < begin || readme.indexOf(ENV_BEGIN, begin + 1) >= 0) {
    throw new EnvMarkersError(`needs exactly one ${ENV_BEGIN} … ${ENV_END} pair around its env table`);
  }
  return { start: begin + ENV_BEGIN.length, end };
}

/** `readme` with the text between the markers replaced by the table of `schema`. */
export function withEnvTable(readme: string, schema: EnvSchema): string {
  const { start, end } = markerRange(readme);
  return `${readme.slice(0, start)}\n${renderEnvTable(schema)}${readme.slice(end)}`;
}

/**
 * What is out of date in `readme`'s table against `schema`, one line per problem (variables
 * missing, left over or changed); empty when the table is exactly what {@link withEnvTable} writes.
 */
export function envTableDrift(readme: string, schema: EnvSchema): string[] {
  let expected: string;
  try {
    expected = withEnvTable(readme, schema);
  } catch (err) {
    if (err instanceof EnvMarkersError) return [err.message];
    throw err;
  }
  if (expected === readme) return [];
  const rowsOf = (text: string) => {
    const { start, end } = markerRange(text);
    const rows = new Map<string, string>();
    for (const line of text.slice(start, end).split("\n")) {
      const name = /^\| `([^`]+)` \|/.exec(line)?.[1];
      if (name) rows.set(name, line);
    }
    return rows;
  };
  const want = rowsOf(expected);
  const have = rowsOf(readme);
  const problems: string[] = [];
  for (const [name, row] of want) {
    if (!have.has(name)) problems.push(`${name} is in the config schema but not in the table`);
    else if (have.get(name) !== row) problems.push(`${name} differs from the config schema`);
  }
  for (const name of have.keys()) {
    if (!want.has(name)) problems.push(`${name} is in the table but not in the config schema`);
  }
  return problems.length > 0 ? problems : ["the table's layout differs from what the generator writes"];
}
