import { parseStatements, SqlText } from "./parser.ts";
import { PlanCache } from "./plan-cache.ts";
import { planParsedStatement } from "./plan-statement.ts";
import { type KeyedPlan, PlanError, type ShardedTableSpec, type StatementPlan } from "./plan-types.ts";
import { ShardedTableCatalog } from "./sharded-tables.ts";

/** Plans kept per planner: distinct statement texts of a typical application fit many times over. */
export const DEFAULT_PLAN_CACHE_SIZE = 5000;

/**
 * Plans statements for one database's sharded tables. Pure and synchronous once loadParser() has
 * resolved; plans are cached by statement text (a query string with literals in it is a different
 * entry per value, as in PostgreSQL's own plan cache for simple queries). Plans are shared: do not
 * mutate them.
 */
export class StatementPlanner {
  private readonly catalog: ShardedTableCatalog;
  private readonly cache: PlanCache<readonly StatementPlan[]>;
  /** Keyed plans by the shape of their text (integer literals blanked): see `literalShape`. */
  private readonly shapes: PlanCache<ShapeTemplate>;
  private hits = 0;
  private misses = 0;

  constructor(tables: readonly ShardedTableSpec[], options?: { cacheSize?: number }) {
    this.catalog = new ShardedTableCatalog(tables);
    this.cache = new PlanCache(options?.cacheSize ?? DEFAULT_PLAN_CACHE_SIZE);
    this.shapes = new PlanCache(options?.cacheSize ?? DEFAULT_PLAN_CACHE_SIZE);
  }

  get cacheHits(): number {
    return this.hits;
  }

  get cacheMisses(): number {
    return this.misses;
  }

  /**
   * A simple-protocol query string: one plan per statement, each with its own text. An empty
   * string (or only comments/semicolons) has no statements. Throws PlanError 42601 on a syntax error.
   */
  planQuery(sql: string): readonly StatementPlan[] {
    const cached = this.cache.get(sql);
    if (cached !== undefined) {
      this.hits++;
      return cached;
    }
    // A statement differing from a planned one only in its integer literals (a simple query's
    // key, `WHERE aid = 77`) gets that plan with its own text and key values, without a parse: a
    // hit of the shape cache. Its plan is not cached by text — a key per statement would churn
    // the text cache (each entry outliving the young generation, to be collected in the old one)
    // for a lookup that costs no more than this.
    const shape = literalShape(sql);
    const template = shape === undefined ? undefined : this.shapes.get(shape.text);
    if (shape !== undefined && template !== undefined) {
      this.hits++;
      return [
        {
          ...template.plan,
          sql: sql.slice(template.trimStart, sql.length - template.trimEnd),
          keys: template.keyLiterals.map((i) => ({ kind: "const", value: shape.literals[i]! }) as const),
        },
      ];
    }
    this.misses++;
    const text = new SqlText(sql);
    const plans = parseStatements(text).map((parsed) => planParsedStatement(parsed, this.catalog));
    this.cache.set(sql, plans);
    if (shape !== undefined) {
      const made = shapeTemplate(sql, plans, shape.literals);
      if (made !== undefined) this.shapes.set(shape.text, made);
    }
    return plans;
  }

  /** An extended-protocol Parse: one statement; none is the empty query (kind "empty"). */
  planStatement(sql: string): StatementPlan {
    const plans = this.planQuery(sql);
    if (plans.length > 1)
      throw new PlanError("42601", "cannot insert multiple commands into a prepared statement");
    return plans[0] ?? { sql, kind: "empty" };
  }
}

/** A keyed plan to reuse for statements of one shape: which literal each of its keys is. */
interface ShapeTemplate {
  readonly plan: KeyedPlan & { readonly sql: string };
  readonly keyLiterals: readonly number[];
  /** The plan's text is the statement's less this many characters each side (blanks, `;`). */
  readonly trimStart: number;
  readonly trimEnd: number;
}

const KEYED_FIELDS = new Set(["sql", "kind", "keyType", "keys", "write"]);

/**
 * The template of a statement's plans when they may stand for every statement of its shape: one
 * keyed plan with no field beyond its text and keys (no merge, no rewrite), every key a constant
 * that is exactly one of the statement's integer literals (a literal written twice is ambiguous).
 */
function shapeTemplate(
  sql: string,
  plans: readonly StatementPlan[],
  literals: readonly string[],
): ShapeTemplate | undefined {
  const plan = plans[0];
  if (plans.length !== 1 || plan?.kind !== "keyed") return undefined;
  // The plan's text is the statement's own, less blanks and semicolons around it.
  const trimStart = sql.indexOf(plan.sql);
  if (trimStart < 0 || sql.indexOf(plan.sql, trimStart + 1) >= 0) return undefined;
  const trimEnd = sql.length - trimStart - plan.sql.length;
  const blank = /^[\s;]*$/;
  if (!blank.test(sql.slice(0, trimStart)) || !blank.test(sql.slice(sql.length - trimEnd))) return undefined;
  if (Object.keys(plan).some((field) => !KEYED_FIELDS.has(field))) return undefined;
  const keyLiterals: number[] = [];
  for (const key of plan.keys) {
    if (key.kind !== "const") return undefined;
    const at = literals.indexOf(key.value);
    if (at < 0 || literals.indexOf(key.value, at + 1) >= 0 || keyLiterals.includes(at)) return undefined;
    keyLiterals.push(at);
  }
  return { plan: plan as ShapeTemplate["plan"], keyLiterals, trimStart, trimEnd };
}

const isWordChar = (code: number) =>
  (code >= 48 && code <= 57) ||
  (code >= 65 && code <= 90) ||
  (code >= 97 && code <= 122) ||
  code === 95 ||
  code === 36 ||
  code >= 128;

/**
 * The statement with each integer literal (at most 15 digits, standing alone: not part of a
 * name, a decimal or an exponent) blanked, and those literals in order; undefined for text this
 * plain scan cannot read safely (quotes, dollar signs, comments, backslashes) or with no literal.
 */
export function literalShape(sql: string): { text: string; literals: string[] } | undefined {
  if (sql.length > 4096 || sql.includes("\0") || /['"$\\]|--|\/\*/.test(sql)) return undefined;
  const literals: string[] = [];
  let text = "";
  let from = 0;
  for (let i = 0; i < sql.length; i++) {
    const code = sql.charCodeAt(i);
    if (code < 48 || code > 57) continue;
    const before = i === 0 ? 32 : sql.charCodeAt(i - 1);
    let end = i;
    while (end < sql.length && sql.charCodeAt(end) >= 48 && sql.charCodeAt(end) <= 57) end++;
    const after = end === sql.length ? 32 : sql.charCodeAt(end);
    if (!isWordChar(before) && before !== 46 && !isWordChar(after) && after !== 46 && end - i <= 15) {
      literals.push(sql.slice(i, end));
      text += `${sql.slice(from, i)}\u0000`;
      from = end;
    }
    i = end - 1;
  }
  if (literals.length === 0) return undefined;
  return { text: text + sql.slice(from), literals };
}
