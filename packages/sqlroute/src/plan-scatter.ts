import type { ShardKeyType } from "@dbplane/sharding";
import type { FuncCall, Node, ResTarget, SelectStmt, SortBy } from "libpg-query";
import { type AstObject, columnPath, functionName, keyExprOf, nodeKind, nodeOf } from "./ast.ts";
import type { KeyExpr, MergePlan, StatementPlan } from "./plan-types.ts";
import { NAME_A_KEY_HINT, refused } from "./refusals.ts";
import { SelectTokens, type Span } from "./select-tokens.ts";

type MergeableAggregate = MergePlan["aggregates"][number]["fn"];
const MERGEABLE = new Set<string>(["count", "sum", "min", "max", "avg"]);
/** PostgreSQL's built-in aggregates whose per-shard results cannot be combined (or not exactly). */
const OTHER_AGGREGATES = new Set([
  "array_agg",
  "string_agg",
  "json_agg",
  "jsonb_agg",
  "json_object_agg",
  "jsonb_object_agg",
  "json_agg_strict",
  "jsonb_agg_strict",
  "json_objectagg",
  "json_arrayagg",
  "xmlagg",
  "bool_and",
  "bool_or",
  "every",
  "bit_and",
  "bit_or",
  "bit_xor",
  "stddev",
  "stddev_pop",
  "stddev_samp",
  "variance",
  "var_pop",
  "var_samp",
  "covar_pop",
  "covar_samp",
  "corr",
  "regr_avgx",
  "regr_avgy",
  "regr_count",
  "regr_intercept",
  "regr_r2",
  "regr_slope",
  "regr_sxx",
  "regr_sxy",
  "regr_syy",
  "percentile_cont",
  "percentile_disc",
  "mode",
  "any_value",
  "range_agg",
  "range_intersect_agg",
  "grouping",
]);

const SCATTER_HINT = `${NAME_A_KEY_HINT} Or run it per shard key and combine the results in the application.`;

class Unmergeable extends Error {
  override readonly name = "Unmergeable";
}

/** A column of the client's row: a select-list item, an absolute position, or an appended hidden one. */
type ColumnRef = { target: number } | { position: number } | { hidden: number };

/**
 * A read that several shards answer: the per-shard SQL (select list extended with hidden columns
 * — avg's sum and count, sort and group keys not in the output — and LIMIT raised to
 * LIMIT + OFFSET without OFFSET) and the MergePlan to combine their rows. The rewrite edits the
 * statement's own text at positions found by PostgreSQL's lexer (libpg-query 18 has no deparser),
 * so everything else stays as the client wrote it.
 */
export function planScatter(
  sql: string,
  stmt: Node,
  start: number,
  keyed: { keyType: ShardKeyType; keys: KeyExpr[] } | undefined,
): StatementPlan {
  const select = nodeOf<SelectStmt>(stmt, "SelectStmt")!;
  let result: { merge: MergePlan; rewrittenSql: string };
  try {
    result = new ScatterRewrite(sql, select, start).build();
  } catch (error) {
    if (error instanceof Unmergeable) return refused(sql, error.message, SCATTER_HINT);
    throw error;
  }
  if (keyed === undefined) return { sql, kind: "scatter", ...result };
  return { sql, kind: "keyed", keyType: keyed.keyType, keys: keyed.keys, write: false, ...result };
}

class ScatterRewrite {
  private readonly tokens: SelectTokens;
  private readonly targets: ResTarget[];
  private readonly starIndex: number;
  private readonly hidden: string[] = [];
  private readonly aggregates: {
    column: ColumnRef;
    fn: MergeableAggregate;
    sum?: ColumnRef;
    count?: ColumnRef;
  }[] = [];

  private readonly select: SelectStmt;
  /** The statement's byte offset in the query string: parse-tree locations count from there. */
  private readonly start: number;

  constructor(sql: string, select: SelectStmt, start: number) {
    this.select = select;
    this.start = start;
    this.tokens = new SelectTokens(sql);
    this.targets = (select.targetList ?? []).map((t) => nodeOf<ResTarget>(t, "ResTarget") ?? {});
    this.starIndex = this.targets.findIndex(
      (t) => columnPath(t.val) === undefined && nodeKind(t.val) === "ColumnRef",
    );
  }

  build(): { merge: MergePlan; rewrittenSql: string } {
    this.refuseUnmergeable();
    for (const [i, target] of this.targets.entries()) this.addAggregate(target.val, { target: i });
    const groupBy = this.groupColumns();
    const orderBy = this.orderColumns();
    const grouped = this.aggregates.length > 0 || groupBy.length > 0;
    const { limit, offset, limitParam, offsetParam, limitSql } = this.limits();
    const edits: { span: Span; text: string }[] = [];
    if (this.hidden.length > 0) {
      const end = this.tokens.targetListEnd();
      if (end === undefined) throw new Unmergeable("this form of SELECT cannot be combined across shards");
      edits.push({ span: [end, end], text: this.hidden.map((h) => `, ${h}`).join("") });
    }
    // A per-shard LIMIT is only right when each shard's rows are final rows: not before grouping.
    const limitSpans = this.tokens.limitClauses();
    limitSpans.forEach((span, i) => {
      edits.push({ span, text: i === 0 && !grouped && limitSql !== undefined ? limitSql : "" });
    });
    const merge: MergePlan = {
      orderBy: orderBy.map((o) => ({ ...o, column: this.resolve(o.column) })),
      ...(limit === undefined ? {} : { limit }),
      ...(offset === undefined ? {} : { offset }),
      ...(limitParam === undefined ? {} : { limitParam }),
      ...(offsetParam === undefined ? {} : { offsetParam }),
      aggregates: this.aggregates.map((a) => ({
        column: this.resolve(a.column),
        fn: a.fn,
        ...(a.sum === undefined ? {} : { sumColumn: this.resolve(a.sum) }),
        ...(a.count === undefined ? {} : { countColumn: this.resolve(a.count) }),
      })),
      groupBy: groupBy.map((c) => this.resolve(c)),
      distinct: this.select.distinctClause !== undefined,
      hiddenColumns: this.hidden.length,
    };
    return { merge, rewrittenSql: applyEdits(this.tokens, edits) };
  }

  private refuseUnmergeable(): void {
    const s = this.select;
    if (s.havingClause !== undefined) {
      throw new Unmergeable(
        "HAVING over rows of several shards is not supported: each shard sees only part of a group",
      );
    }
    if (s.windowClause !== undefined || [s.targetList, s.sortClause].some(hasWindowFunction)) {
      throw new Unmergeable("window functions over rows of several shards are not supported");
    }
    if (s.distinctClause?.some((d) => nodeKind(d) !== undefined)) {
      throw new Unmergeable("SELECT DISTINCT ON over rows of several shards is not supported");
    }
    if (s.limitOption === "LIMIT_OPTION_WITH_TIES") {
      throw new Unmergeable("FETCH … WITH TIES over rows of several shards is not supported");
    }
    if ((s.groupClause ?? []).some((g) => nodeKind(g) === "GroupingSet") || s.groupDistinct) {
      throw new Unmergeable("GROUPING SETS, ROLLUP and CUBE over rows of several shards are not supported");
    }
  }

  /** Registers an aggregate select-list item (or hidden column); refuses aggregates it cannot combine. */
  private addAggregate(expr: Node | undefined, column: ColumnRef): void {
    const call = nodeOf<FuncCall>(expr, "FuncCall");
    const name = functionName(call?.funcname);
    if (call !== undefined && name !== undefined && MERGEABLE.has(name) && isPlainAggregate(call)) {
      if (call.agg_distinct)
        throw new Unmergeable(`${name}(DISTINCT …) over rows of several shards is not supported`);
      if (name !== "avg") {
        this.aggregates.push({ column, fn: name as MergeableAggregate });
        return;
      }
      const text = this.tokens.callAt(call.location! - this.start);
      if (text === undefined) throw new Unmergeable("could not rewrite avg() for several shards");
      const sum = this.addHidden(`sum${text.rest}`);
      const count = this.addHidden(`count${text.rest}`);
      this.aggregates.push({ column, fn: "avg", sum, count });
      return;
    }
    const inner = firstAggregate(expr);
    if (inner === undefined) return;
    throw new Unmergeable(
      MERGEABLE.has(inner)
        ? `${inner}() inside an expression over rows of several shards is not supported; select the aggregate itself`
        : `aggregate ${inner}() over rows of several shards is not supported (only count, sum, min, max and avg combine)`,
    );
  }

  private groupColumns(): ColumnRef[] {
    const items = this.select.groupClause ?? [];
    if (items.length === 0) return [];
    const spans = this.tokens.groupByItems();
    if (spans?.length !== items.length) throw new Unmergeable("could not read the GROUP BY list");
    return items.map((item, i) => {
      const position = positionOf(item);
      if (position !== undefined) return { position };
      const target = this.matchExpression(item) ?? this.matchOutputName(item);
      return target === undefined ? this.addHidden(this.tokens.slice(spans[i]!)) : { target };
    });
  }

  private orderColumns(): { column: ColumnRef; descending: boolean; nullsFirst: boolean }[] {
    const items = (this.select.sortClause ?? []).map((s) => nodeOf<SortBy>(s, "SortBy")!);
    if (items.length === 0) return [];
    const spans = this.tokens.orderByItems();
    if (spans?.length !== items.length) throw new Unmergeable("could not read the ORDER BY list");
    return items.map((item, i) => {
      if (item.sortby_dir === "SORTBY_USING")
        throw new Unmergeable("ORDER BY … USING over several shards is not supported");
      const descending = item.sortby_dir === "SORTBY_DESC";
      const nullsFirst =
        item.sortby_nulls === "SORTBY_NULLS_DEFAULT" || item.sortby_nulls === undefined
          ? descending
          : item.sortby_nulls === "SORTBY_NULLS_FIRST";
      const position = positionOf(item.node);
      if (position !== undefined) return { column: { position }, descending, nullsFirst };
      const target = this.matchOutputName(item.node) ?? this.matchExpression(item.node);
      if (target !== undefined) return { column: { target }, descending, nullsFirst };
      if (this.select.distinctClause !== undefined) {
        throw new Unmergeable("for SELECT DISTINCT, ORDER BY expressions must appear in select list");
      }
      const column = this.addHidden(this.tokens.slice(spans[i]!));
      this.addAggregate(item.node, column);
      return { column, descending, nullsFirst };
    });
  }

  private limits() {
    const count = this.limitValue(this.select.limitCount, "LIMIT");
    const skip = this.limitValue(this.select.limitOffset, "OFFSET");
    const limit = count?.kind === "const" ? count.value : undefined;
    const offset = skip?.kind === "const" ? skip.value : undefined;
    const limitParam = count?.kind === "param" ? count.index : undefined;
    const offsetParam = skip?.kind === "param" ? skip.index : undefined;
    let limitSql: string | undefined;
    if (count !== undefined) {
      const sqlOf = (v: { kind: "const"; value: number } | { kind: "param"; index: number }) =>
        v.kind === "const" ? String(v.value) : `($${v.index + 1})::int8`;
      limitSql =
        skip === undefined
          ? `LIMIT ${sqlOf(count)}`
          : count.kind === "const" && skip.kind === "const"
            ? `LIMIT ${count.value + skip.value}`
            : `LIMIT ${sqlOf(count)} + ${sqlOf(skip)}`;
    }
    return { limit, offset, limitParam, offsetParam, limitSql };
  }

  private limitValue(node: Node | undefined, clause: string) {
    if (node === undefined) return undefined;
    if (nodeOf<{ isnull?: boolean }>(node, "A_Const")?.isnull) return undefined; // LIMIT ALL / NULL
    const value = keyExprOf(node);
    if (value?.kind === "param") return value;
    if (value?.kind === "const" && /^\d+$/.test(value.value))
      return { kind: "const" as const, value: Number(value.value) };
    throw new Unmergeable(`${clause} must be a number or a parameter for a read over several shards`);
  }

  /** The select-list item the expression repeats, compared without source positions. */
  private matchExpression(node: Node | undefined): number | undefined {
    const wanted = shape(node);
    const i = this.targets.findIndex((t) => shape(t.val) === wanted);
    return i < 0 ? undefined : i;
  }

  /** A bare name that is an output column's name (its alias, column or function name). */
  private matchOutputName(node: Node | undefined): number | undefined {
    const path = columnPath(node);
    if (path?.length !== 1) return undefined;
    const matches = this.targets.flatMap((t, i) => (outputName(t) === path[0] ? [i] : []));
    return matches.length === 1 ? matches[0] : undefined;
  }

  private addHidden(text: string): ColumnRef {
    this.hidden.push(text);
    return { hidden: this.hidden.length - 1 };
  }

  /**
   * The 0-based column of the client-visible row; after a `*` (whose width the planner cannot
   * know) columns count from the end of the row: -1 is the last, hidden ones included.
   */
  private resolve(column: ColumnRef): number {
    if ("position" in column) return column.position;
    const star = this.starIndex >= 0;
    if ("hidden" in column)
      return star ? column.hidden - this.hidden.length : this.targets.length + column.hidden;
    if (!star || column.target < this.starIndex) return column.target;
    return column.target - this.targets.length - this.hidden.length;
  }
}

function applyEdits(tokens: SelectTokens, edits: { span: Span; text: string }[]): string {
  const bytes = tokens.text.bytes;
  let out = "";
  let at = 0;
  for (const edit of [...edits].sort((a, b) => a.span[0] - b.span[0])) {
    const before = bytes.toString("utf8", at, edit.span[0]);
    // A removed clause takes the space before it along.
    out += (edit.text === "" ? before.trimEnd() : before) + edit.text;
    at = edit.span[1];
  }
  return out + bytes.toString("utf8", at);
}

function positionOf(node: Node | undefined): number | undefined {
  const value = nodeOf<{ ival?: { ival?: number } }>(node, "A_Const")?.ival;
  return value === undefined ? undefined : (value.ival ?? 0) - 1;
}

function outputName(target: ResTarget): string | undefined {
  if (target.name !== undefined) return target.name;
  const path = columnPath(target.val);
  if (path !== undefined) return path.at(-1);
  return functionName(nodeOf<FuncCall>(target.val, "FuncCall")?.funcname);
}

function shape(node: Node | undefined): string {
  return JSON.stringify(node ?? null, (key, value) => (key === "location" ? undefined : value));
}

function isPlainAggregate(call: FuncCall): boolean {
  return call.over === undefined && !call.agg_within_group && (call.funcname?.length ?? 0) <= 2;
}

function hasWindowFunction(value: unknown): boolean {
  return someNode(value, (kind, body) => kind === "FuncCall" && (body as FuncCall).over !== undefined);
}

/**
 * The name of the first aggregate call in an expression (subqueries excluded: they run whole on
 * each row): a built-in aggregate by name, or any function called with syntax only aggregates
 * take (`*`, DISTINCT, ORDER BY in the arguments, FILTER, WITHIN GROUP) — a user-defined
 * aggregate called as `f(x)` looks like any function and cannot be told apart without the catalog.
 */
function firstAggregate(value: unknown): string | undefined {
  let found: string | undefined;
  someNode(value, (kind, body) => {
    if (kind !== "FuncCall") return false;
    const call = body as FuncCall;
    const name = functionName(call.funcname);
    if (
      name !== undefined &&
      (MERGEABLE.has(name) || OTHER_AGGREGATES.has(name) || hasAggregateSyntax(call))
    ) {
      found = name;
    }
    return found !== undefined;
  });
  return found;
}

function hasAggregateSyntax(call: FuncCall): boolean {
  return (
    call.over === undefined &&
    (call.agg_star === true ||
      call.agg_distinct === true ||
      call.agg_within_group === true ||
      call.agg_filter !== undefined ||
      (call.agg_order?.length ?? 0) > 0)
  );
}

function someNode(value: unknown, test: (kind: string, body: unknown) => boolean): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) return value.some((v) => someNode(v, test));
  const kind = nodeKind(value);
  if (kind === "SubLink" || kind === "SelectStmt") return false;
  if (kind !== undefined && test(kind, (value as AstObject)[kind])) return true;
  return Object.values(value as AstObject).some((v) => someNode(v, test));
}
