import { parseStatements, SqlText } from "./parser.ts";
import { PlanCache } from "./plan-cache.ts";
import { planParsedStatement } from "./plan-statement.ts";
import { PlanError, type ShardedTableSpec, type StatementPlan } from "./plan-types.ts";
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
  private hits = 0;
  private misses = 0;

  constructor(tables: readonly ShardedTableSpec[], options?: { cacheSize?: number }) {
    this.catalog = new ShardedTableCatalog(tables);
    this.cache = new PlanCache(options?.cacheSize ?? DEFAULT_PLAN_CACHE_SIZE);
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
    this.misses++;
    const text = new SqlText(sql);
    const plans = parseStatements(text).map((parsed) => planParsedStatement(parsed, this.catalog));
    this.cache.set(sql, plans);
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
