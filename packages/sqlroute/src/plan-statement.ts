import type { CopyStmt, InsertStmt, Node, SelectStmt, TransactionStmt, VariableSetStmt } from "libpg-query";
import { keyExprId, nodeKind, nodeOf } from "./ast.ts";
import type { ParsedStatement } from "./parser.ts";
import { planInsert } from "./plan-insert.ts";
import { planScatter } from "./plan-scatter.ts";
import type { KeyExpr, StatementPlan } from "./plan-types.ts";
import { planCopy, planSet, planTransaction, planUtility } from "./plan-utility.ts";
import { NAME_A_KEY_HINT, refused } from "./refusals.ts";
import { shardKeyHint } from "./shard-key-hint.ts";
import type { ShardedTableCatalog } from "./sharded-tables.ts";
import { type TableRef, TableReferences } from "./table-references.ts";

const DML = new Set(["SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"]);

/** Routes one parsed statement. */
export function planParsedStatement(parsed: ParsedStatement, catalog: ShardedTableCatalog): StatementPlan {
  const { stmt, text: sql } = parsed;
  const kind = nodeKind(stmt) ?? "";
  const transaction = nodeOf<TransactionStmt>(stmt, "TransactionStmt");
  if (transaction !== undefined) return planTransaction(sql, transaction);
  const set = nodeOf<VariableSetStmt>(stmt, "VariableSetStmt");
  if (set !== undefined) return planSet(sql, set);

  const hint = shardKeyHint(sql);
  if (hint !== undefined) return planHinted(sql, stmt, hint, catalog);

  const copy = nodeOf<CopyStmt>(stmt, "CopyStmt");
  if (copy !== undefined) {
    const refs = references(copy.query ?? { RangeVar: copy.relation! }, catalog);
    return planCopy(sql, copy, catalog, refs.shardedRefs.length > 0);
  }
  if (DML.has(kind)) return planDml(parsed, catalog);
  const explain = nodeOf<{ query?: Node; options?: Node[] }>(stmt, "ExplainStmt");
  if (explain?.query !== undefined)
    return planExplain({ ...parsed, stmt: explain.query }, explain.options ?? [], catalog);
  const cursor = nodeOf<{ query?: Node }>(stmt, "DeclareCursorStmt");
  if (cursor?.query !== undefined) return planCursor({ ...parsed, stmt: cursor.query }, catalog);
  const createAs = nodeOf<{ query?: Node }>(stmt, "CreateTableAsStmt");
  if (createAs?.query !== undefined && references(createAs.query, catalog).shardedRefs.length > 0) {
    return refused(
      sql,
      "CREATE TABLE AS / materialized view over a sharded table is not supported",
      NAME_A_KEY_HINT,
    );
  }
  return planUtility(sql, stmt);
}

function references(stmt: Node, catalog: ShardedTableCatalog): TableReferences {
  const refs = new TableReferences(catalog);
  if (nodeKind(stmt) === "RangeVar") {
    refs.walkStatement({ SelectStmt: { fromClause: [stmt] } } as Node, undefined, "top");
  } else {
    refs.walkStatement(stmt, undefined, "top");
  }
  return refs;
}

/** The hint overrides what the parser sees: the statement runs on the hinted key's shard. */
function planHinted(sql: string, stmt: Node, hint: string, catalog: ShardedTableCatalog): StatementPlan {
  const refs = DML.has(nodeKind(stmt) ?? "") ? references(stmt, catalog) : undefined;
  const table = refs?.writeTargets.find((ref) => ref.sharded !== undefined) ?? refs?.shardedRefs[0];
  const write = refs === undefined || refs.writeTargets.length > 0 || isSelectInto(stmt);
  return {
    sql,
    kind: "keyed",
    keyType: table?.sharded?.keyType ?? "text",
    keys: [{ kind: "const", value: hint }],
    write,
  };
}

function isSelectInto(stmt: Node): boolean {
  return nodeOf<SelectStmt>(stmt, "SelectStmt")?.intoClause !== undefined;
}

function planDml(parsed: ParsedStatement, catalog: ShardedTableCatalog): StatementPlan {
  const { stmt, text: sql, start } = parsed;
  const refs = references(stmt, catalog);
  const sharded = refs.shardedRefs;
  const write = refs.writeTargets.length > 0 || isSelectInto(stmt);
  if (!write) {
    if (sharded.length === 0) return { sql, kind: "any" };
    const keyed = commonKeys(refs);
    if (keyed.kind === "keyed") {
      return keyed.keys.length === 1
        ? { sql, kind: "keyed", keyType: keyed.table.sharded!.keyType, keys: keyed.keys, write: false }
        : planScatter(sql, stmt, start, { keyType: keyed.table.sharded!.keyType, keys: keyed.keys });
    }
    if (keyed.kind === "refused") return refused(sql, keyed.message, NAME_A_KEY_HINT);
    return planScatter(sql, stmt, start, undefined);
  }
  const shardedTargets = refs.writeTargets.filter((ref) => ref.sharded !== undefined);
  if (shardedTargets.length === 0) {
    if (sharded.length === 0) return { sql, kind: "broadcast", write: true };
    const target = refs.writeTargets[0];
    return refused(
      sql,
      `writing rows read from sharded table ${displayName(sharded[0]!)} into ${target === undefined ? "a new table" : displayName(target)}, which lives on every shard, would make its copies differ`,
      NAME_A_KEY_HINT,
    );
  }
  if (refs.updatesKeyColumn) {
    const target = shardedTargets[0]!;
    return refused(
      sql,
      `UPDATE of the shard key column ${target.sharded!.keyColumn} of ${displayName(target)} is not supported: the row would stay on the old key's shard`,
      "Delete the row and insert it with the new key.",
    );
  }
  const insert = nodeOf<InsertStmt>(stmt, "InsertStmt");
  if (insert !== undefined) return planInsert(sql, insert, shardedTargets[0]!);
  const keyed = commonKeys(refs);
  if (keyed.kind === "keyed") {
    return { sql, kind: "keyed", keyType: keyed.table.sharded!.keyType, keys: keyed.keys, write: true };
  }
  if (keyed.kind === "refused") return refused(sql, keyed.message, NAME_A_KEY_HINT);
  return { sql, kind: "scatter-write" };
}

type KeyAnalysis =
  | { kind: "keyed"; table: TableRef; keys: KeyExpr[] }
  | { kind: "unkeyed" }
  | { kind: "refused"; message: string };

/**
 * Whether every sharded table the statement touches is pinned to the same keys (one shard, or
 * the few that own an IN list), or all of them are joined on their keys so that each shard can
 * answer for its own rows (a scatter), or neither.
 */
function commonKeys(refs: TableReferences): KeyAnalysis {
  const sharded = refs.shardedRefs;
  const first = sharded[0]!;
  const firstKeys = refs.keysOf(first);
  const family = keyFamily(first);
  const mixedTypes = sharded.find((ref) => keyFamily(ref) !== family);
  if (mixedTypes !== undefined && sharded.length > 1) {
    return {
      kind: "refused",
      message: `${displayName(first)} and ${displayName(mixedTypes)} are sharded by keys of different types, so their rows do not share shards`,
    };
  }
  if (firstKeys !== undefined) {
    const id = keySetId(firstKeys);
    const other = sharded.find((ref) => {
      const keys = refs.keysOf(ref);
      return keys === undefined || keySetId(keys) !== id;
    });
    if (other === undefined) return { kind: "keyed", table: first, keys: firstKeys };
  }
  const classes = new Set(sharded.map((ref) => refs.classOf(ref)));
  if (classes.size > 1) {
    const other = sharded.find((ref) => refs.classOf(ref) !== refs.classOf(first))!;
    return {
      kind: "refused",
      message: `${displayName(first)} and ${displayName(other)} are not joined on their shard keys nor pinned to the same key, so no shard holds all the rows they combine`,
    };
  }
  const unmergeable = sharded.find((ref) => !runsPerShard(ref));
  if (unmergeable !== undefined) {
    return {
      kind: "refused",
      message: `sharded table ${displayName(unmergeable)} is read in a ${scopeDescription(unmergeable.scope.kind)} without a shard key; each shard's part of it would be combined wrongly`,
    };
  }
  if (!sharded.some((ref) => ref.scope.kind === "top")) {
    return {
      kind: "refused",
      message: `sharded table ${displayName(first)} is read only in a subquery without a shard key`,
    };
  }
  return { kind: "unkeyed" };
}

/** A block that runs once per row of the statement's own tables, or the statement itself. */
function runsPerShard(ref: TableRef): boolean {
  for (let scope: typeof ref.scope | undefined = ref.scope; scope !== undefined; scope = scope.parent) {
    if (scope.kind !== "top" && scope.kind !== "sublink") return false;
  }
  return true;
}

function scopeDescription(kind: string): string {
  return kind === "derived"
    ? "subquery in FROM"
    : kind === "cte"
      ? "WITH query"
      : kind === "setop"
        ? "UNION/INTERSECT/EXCEPT"
        : "subquery";
}

/** smallint, integer and bigint keys hash alike (hashint8extended); text and uuid each differ. */
function keyFamily(ref: TableRef): string {
  const type = ref.sharded!.keyType;
  return type === "smallint" || type === "integer" || type === "bigint" ? "int" : type;
}

function keySetId(keys: readonly KeyExpr[]): string {
  return [...new Set(keys.map(keyExprId))].sort().join("\u0000");
}

function displayName(ref: TableRef): string {
  return ref.schema === undefined ? ref.relname : `${ref.schema}.${ref.relname}`;
}

/** EXPLAIN runs where its statement would; EXPLAIN ANALYZE of a write also writes. */
function planExplain(
  parsed: ParsedStatement,
  options: readonly Node[],
  catalog: ShardedTableCatalog,
): StatementPlan {
  const sql = parsed.text;
  const inner = planParsedStatement(parsed, catalog);
  const analyze = options.some(
    (option) => nodeOf<{ defname?: string }>(option, "DefElem")?.defname === "analyze",
  );
  if (inner.kind === "keyed")
    return { sql, kind: "keyed", keyType: inner.keyType, keys: inner.keys, write: inner.write && analyze };
  if (inner.kind === "refused") return inner;
  if (analyze && (inner.kind === "broadcast" || inner.kind === "scatter-write")) return { ...inner, sql };
  return { sql, kind: "any" };
}

/** A cursor lives in one server session: its query must name one shard's rows (or none). */
function planCursor(parsed: ParsedStatement, catalog: ShardedTableCatalog): StatementPlan {
  const sql = parsed.text;
  const inner = planParsedStatement(parsed, catalog);
  if (inner.kind === "keyed" && inner.keys.length === 1) return { ...inner, sql };
  if (inner.kind === "any" || inner.kind === "refused") return { ...inner, sql };
  return refused(sql, "a cursor over rows of several shards is not supported", NAME_A_KEY_HINT);
}
