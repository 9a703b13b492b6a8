import type {
  DeleteStmt,
  InsertStmt,
  JoinExpr,
  MergeStmt,
  Node,
  RangeSubselect,
  RangeVar,
  SelectStmt,
  UpdateStmt,
  WithClause,
} from "libpg-query";
import { type AstObject, columnPath, keyExprId, keyExprOf, nodeKind, nodeOf, operatorName } from "./ast.ts";
import type { KeyExpr } from "./plan-types.ts";
import type { ShardedTable, ShardedTableCatalog } from "./sharded-tables.ts";

/**
 * Where a query block sits: the statement itself, a subquery in an expression (`IN (SELECT …)`,
 * `EXISTS`), a derived table in FROM, a CTE, or a branch of UNION/INTERSECT/EXCEPT. Only the
 * first two can run on every shard and still be merged correctly.
 */
export type ScopeKind = "top" | "sublink" | "derived" | "cte" | "setop";

export interface Scope {
  readonly parent: Scope | undefined;
  readonly kind: ScopeKind;
  readonly refs: TableRef[];
  readonly cteNames: Set<string>;
}

/** One mention of a table in a FROM list (or a DML target). */
export interface TableRef {
  readonly id: number;
  readonly scope: Scope;
  /** The name the query uses for it: its alias, else its relation name. */
  readonly alias: string;
  readonly schema: string | undefined;
  readonly relname: string;
  readonly sharded: ShardedTable | undefined;
}

/**
 * Every table a statement reads or writes, which sharded ones are pinned to key values, and which
 * are joined to each other on their keys (co-located: their matching rows live on one shard).
 * Only conditions that must hold for every row count: AND-ed `key = value`, `key IN (values)` and
 * `a.key = b.key` in WHERE and inner-join ON (key-to-key equality in an outer join's ON too).
 */
export class TableReferences {
  readonly refs: TableRef[] = [];
  readonly writeTargets: TableRef[] = [];
  /** The sharded target's key column appears in UPDATE's SET list. */
  updatesKeyColumn = false;
  private readonly parent: number[] = [];
  private readonly keys = new Map<number, KeyExpr[]>();

  private readonly catalog: ShardedTableCatalog;

  constructor(catalog: ShardedTableCatalog) {
    this.catalog = catalog;
  }

  get shardedRefs(): TableRef[] {
    return this.refs.filter((ref) => ref.sharded !== undefined);
  }

  /** The key values a sharded reference is pinned to, or undefined. */
  keysOf(ref: TableRef): KeyExpr[] | undefined {
    return this.keys.get(this.root(ref.id));
  }

  /** References joined on their keys share a class id. */
  classOf(ref: TableRef): number {
    return this.root(ref.id);
  }

  /** Walks one statement (any node type; non-DML utility statements contribute nothing). */
  walkStatement(node: Node | undefined, parent: Scope | undefined, kind: ScopeKind): void {
    const scope = () => this.newScope(parent, kind);
    const select = nodeOf<SelectStmt>(node, "SelectStmt");
    const insert = nodeOf<InsertStmt>(node, "InsertStmt");
    const update = nodeOf<UpdateStmt>(node, "UpdateStmt");
    const del = nodeOf<DeleteStmt>(node, "DeleteStmt");
    const merge = nodeOf<MergeStmt>(node, "MergeStmt");
    if (select !== undefined) this.walkSelect(select, scope());
    else if (insert !== undefined) this.walkInsert(insert, scope());
    else if (update !== undefined) this.walkUpdate(update, scope());
    else if (del !== undefined) this.walkDelete(del, scope());
    else if (merge !== undefined) this.walkMerge(merge, scope());
  }

  private newScope(parent: Scope | undefined, kind: ScopeKind): Scope {
    return { parent, kind, refs: [], cteNames: new Set() };
  }

  private walkSelect(select: SelectStmt, scope: Scope): void {
    this.walkWith(select.withClause, scope);
    if (select.op !== undefined && select.op !== "SETOP_NONE") {
      // The branches are bodies, not wrapped nodes.
      if (select.larg !== undefined) this.walkSelect(select.larg, this.newScope(scope, "setop"));
      if (select.rarg !== undefined) this.walkSelect(select.rarg, this.newScope(scope, "setop"));
    }
    for (const item of select.fromClause ?? []) this.walkFrom(item, scope);
    this.constrain(select.whereClause, scope, true);
    this.walkExpressions(
      [select.targetList, select.whereClause, select.groupClause, select.havingClause, select.sortClause],
      scope,
    );
    this.walkExpressions(
      [select.valuesLists, select.windowClause, select.limitCount, select.limitOffset],
      scope,
    );
  }

  private walkInsert(insert: InsertStmt, scope: Scope): void {
    this.walkWith(insert.withClause, scope);
    if (insert.relation !== undefined) this.writeTargets.push(this.addRef(insert.relation, scope));
    // INSERT … SELECT reads in its own block; VALUES rows are expressions of the statement.
    this.walkStatement(insert.selectStmt, scope, "sublink");
    this.walkExpressions([insert.onConflictClause, insert.returningClause], scope);
  }

  private walkUpdate(update: UpdateStmt, scope: Scope): void {
    this.walkWith(update.withClause, scope);
    const target = update.relation === undefined ? undefined : this.addRef(update.relation, scope);
    if (target !== undefined) this.writeTargets.push(target);
    for (const item of update.fromClause ?? []) this.walkFrom(item, scope);
    this.constrain(update.whereClause, scope, true);
    const keyColumn = target?.sharded?.keyColumn;
    for (const item of update.targetList ?? []) {
      const name = nodeOf<{ name?: string }>(item, "ResTarget")?.name;
      if (keyColumn !== undefined && name === keyColumn) this.updatesKeyColumn = true;
    }
    this.walkExpressions([update.targetList, update.whereClause, update.returningClause], scope);
  }

  private walkDelete(del: DeleteStmt, scope: Scope): void {
    this.walkWith(del.withClause, scope);
    if (del.relation !== undefined) this.writeTargets.push(this.addRef(del.relation, scope));
    for (const item of del.usingClause ?? []) this.walkFrom(item, scope);
    this.constrain(del.whereClause, scope, true);
    this.walkExpressions([del.whereClause, del.returningClause], scope);
  }

  private walkMerge(merge: MergeStmt, scope: Scope): void {
    this.walkWith(merge.withClause, scope);
    if (merge.relation !== undefined) this.writeTargets.push(this.addRef(merge.relation, scope));
    this.walkFrom(merge.sourceRelation, scope);
    // Constants in MERGE's ON do not restrict the source rows: only key-to-key equality counts.
    this.constrain(merge.joinCondition, scope, false);
    this.walkExpressions([merge.joinCondition, merge.mergeWhenClauses, merge.returningClause], scope);
  }

  private walkWith(withClause: WithClause | undefined, scope: Scope): void {
    for (const cte of withClause?.ctes ?? []) {
      const body = nodeOf<{ ctename?: string; ctequery?: Node }>(cte, "CommonTableExpr");
      if (body?.ctename !== undefined) scope.cteNames.add(body.ctename);
    }
    for (const cte of withClause?.ctes ?? []) {
      const body = nodeOf<{ ctequery?: Node }>(cte, "CommonTableExpr");
      this.walkStatement(body?.ctequery, scope, "cte");
    }
  }

  private walkFrom(item: Node | undefined, scope: Scope): void {
    const relation = nodeOf<RangeVar>(item, "RangeVar");
    if (relation !== undefined) {
      this.addRef(relation, scope);
      return;
    }
    const join = nodeOf<JoinExpr>(item, "JoinExpr");
    if (join !== undefined) {
      this.walkFrom(join.larg, scope);
      this.walkFrom(join.rarg, scope);
      this.constrain(join.quals, scope, join.jointype === "JOIN_INNER");
      this.walkExpressions([join.quals], scope);
      return;
    }
    const subselect = nodeOf<RangeSubselect>(item, "RangeSubselect");
    if (subselect !== undefined) {
      this.walkStatement(subselect.subquery, scope, "derived");
      return;
    }
    this.walkExpressions([item], scope);
  }

  /** Finds the statements nested in expressions (sublinks, data-modifying CTEs already walked). */
  private walkExpressions(values: readonly unknown[], scope: Scope): void {
    for (const value of values) this.walkValue(value, scope);
  }

  private walkValue(value: unknown, scope: Scope): void {
    if (typeof value !== "object" || value === null) return;
    if (Array.isArray(value)) {
      for (const item of value) this.walkValue(item, scope);
      return;
    }
    const kind = nodeKind(value);
    if (kind === "SelectStmt" || kind === "InsertStmt" || kind === "UpdateStmt" || kind === "DeleteStmt") {
      this.walkStatement(value as Node, scope, "sublink");
      return;
    }
    for (const child of Object.values(value as AstObject)) this.walkValue(child, scope);
  }

  private addRef(relation: RangeVar, scope: Scope): TableRef {
    const relname = relation.relname ?? "";
    const isCte = relation.schemaname === undefined && cteVisible(scope, relname);
    const ref: TableRef = {
      id: this.refs.length,
      scope,
      alias: relation.alias?.aliasname ?? relname,
      schema: relation.schemaname,
      relname,
      sharded: isCte ? undefined : this.catalog.lookup(relation),
    };
    this.refs.push(ref);
    this.parent.push(ref.id);
    scope.refs.push(ref);
    return ref;
  }

  /** Records what an AND-ed condition says about shard keys. */
  private constrain(condition: Node | undefined, scope: Scope, constantsRestrict: boolean): void {
    const and = nodeOf<{ boolop?: string; args?: Node[] }>(condition, "BoolExpr");
    if (and !== undefined) {
      if (and.boolop === "AND_EXPR")
        for (const arg of and.args ?? []) this.constrain(arg, scope, constantsRestrict);
      return;
    }
    const expr = nodeOf<{ kind?: string; name?: Node[]; lexpr?: Node; rexpr?: Node }>(condition, "A_Expr");
    if (expr === undefined || operatorName(expr.name) !== "=") return;
    const left = this.keyColumnRef(expr.lexpr, scope);
    if (expr.kind === "AEXPR_IN") {
      const items = nodeOf<{ items?: Node[] }>(expr.rexpr, "List")?.items ?? [];
      const values = items.map(keyExprOf);
      if (
        left?.scope === scope &&
        constantsRestrict &&
        values.length > 0 &&
        values.every((v) => v !== undefined)
      ) {
        this.pin(left!, values as KeyExpr[]);
      }
      return;
    }
    if (expr.kind !== "AEXPR_OP") return;
    const right = this.keyColumnRef(expr.rexpr, scope);
    if (left !== undefined && right !== undefined) {
      this.union(left.id, right.id);
      return;
    }
    if (!constantsRestrict) return;
    const column = left ?? right;
    const value = keyExprOf(left !== undefined ? expr.rexpr : expr.lexpr);
    // A constant pins only its own block's tables: an outer one's may sit under NOT EXISTS or OR.
    if (column?.scope === scope && value !== undefined) this.pin(column, [value]);
  }

  /**
   * The sharded reference whose key column this is. An unqualified column belongs to the one
   * reference of its own block whose key has that name (PostgreSQL rejects an ambiguous one);
   * a qualified one may name an outer block's table (a correlated subquery).
   */
  private keyColumnRef(node: Node | undefined, scope: Scope): TableRef | undefined {
    const path = columnPath(node);
    if (path === undefined) return undefined;
    const column = path.at(-1)!;
    if (path.length === 1) {
      const owners = scope.refs.filter((ref) => ref.sharded?.keyColumn === column);
      return owners.length === 1 ? owners[0] : undefined;
    }
    const qualifier = path.at(-2)!;
    const schema = path.length === 3 ? path[0] : undefined;
    for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
      const named = s.refs.filter((ref) =>
        schema === undefined ? ref.alias === qualifier : ref.schema === schema && ref.relname === qualifier,
      );
      if (named.length > 0)
        return named.length === 1 && named[0]!.sharded?.keyColumn === column ? named[0] : undefined;
    }
    return undefined;
  }

  private pin(ref: TableRef, values: KeyExpr[]): void {
    const root = this.root(ref.id);
    const known = this.keys.get(root);
    this.keys.set(root, known === undefined ? values : intersect(known, values));
  }

  private union(a: number, b: number): void {
    const ra = this.root(a);
    const rb = this.root(b);
    if (ra === rb) return;
    this.parent[rb] = ra;
    const kb = this.keys.get(rb);
    if (kb !== undefined) {
      const ka = this.keys.get(ra);
      this.keys.set(ra, ka === undefined ? kb : intersect(ka, kb));
      this.keys.delete(rb);
    }
  }

  private root(id: number): number {
    let r = id;
    while (this.parent[r] !== r) r = this.parent[r]!;
    return r;
  }
}

function cteVisible(scope: Scope, name: string): boolean {
  for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) if (s.cteNames.has(name)) return true;
  return false;
}

/** Both conditions hold: the keys in both lists (the first list if they share none, e.g. params vs consts). */
function intersect(a: KeyExpr[], b: KeyExpr[]): KeyExpr[] {
  const inB = new Set(b.map(keyExprId));
  const both = a.filter((key) => inB.has(keyExprId(key)));
  return both.length > 0 ? both : a.length <= b.length ? a : b;
}
