import type { A_Const, CopyStmt, DefElem, Node, TransactionStmt, VariableSetStmt } from "libpg-query";
import { constText, nodeKind, nodeOf, stringValue } from "./ast.ts";
import type { CopyFormat, StatementPlan, TransactionAction } from "./plan-types.ts";
import { NAME_A_KEY_HINT, refused } from "./refusals.ts";
import type { ShardedTableCatalog } from "./sharded-tables.ts";

const TRANSACTION_ACTIONS: Readonly<Record<string, TransactionAction>> = {
  TRANS_STMT_BEGIN: "begin",
  TRANS_STMT_START: "begin",
  TRANS_STMT_COMMIT: "commit",
  TRANS_STMT_ROLLBACK: "rollback",
  TRANS_STMT_SAVEPOINT: "savepoint",
  TRANS_STMT_RELEASE: "release",
  TRANS_STMT_ROLLBACK_TO: "rollback-to",
  TRANS_STMT_PREPARE: "prepare",
};

export function planTransaction(sql: string, stmt: TransactionStmt): StatementPlan {
  const action = stmt.kind === undefined ? undefined : TRANSACTION_ACTIONS[stmt.kind];
  if (action === undefined) {
    return refused(
      sql,
      "COMMIT PREPARED and ROLLBACK PREPARED are not supported through the router",
      undefined,
    );
  }
  const readOnly = (stmt.options ?? []).some((option) => {
    const def = nodeOf<DefElem>(option, "DefElem");
    return def?.defname === "transaction_read_only" && argText(def.arg) === "1";
  });
  const name = stmt.savepoint_name ?? stmt.gid;
  return name === undefined
    ? { sql, kind: "transaction", action, readOnly }
    : { sql, kind: "transaction", action, readOnly, name };
}

/**
 * SET/RESET. `value` is the setting's text (a list joined with ", "); null for RESET, SET … TO
 * DEFAULT and forms whose effect the router only forwards (`SET TRANSACTION …`: `sql` carries it).
 * `RESET ALL` is name "all".
 */
export function planSet(sql: string, stmt: VariableSetStmt): StatementPlan {
  const name = (stmt.name ?? "all").toLowerCase();
  const local = stmt.is_local === true;
  if (stmt.kind !== "VAR_SET_VALUE") return { sql, kind: "set", name, value: null, local };
  const values = (stmt.args ?? []).map(argText);
  return { sql, kind: "set", name, value: values.join(", "), local };
}

function argText(node: Node | undefined): string {
  const literal = nodeOf<A_Const>(node, "A_Const");
  if (literal !== undefined) return constText(literal) ?? "";
  const cast = nodeOf<{ arg?: Node }>(node, "TypeCast");
  if (cast !== undefined) return argText(cast.arg);
  return stringValue(node) ?? "";
}

export function planCopy(
  sql: string,
  stmt: CopyStmt,
  catalog: ShardedTableCatalog,
  readsSharded: boolean,
): StatementPlan {
  if (stmt.filename !== undefined || stmt.is_program === true) {
    return refused(
      sql,
      "COPY to or from a server file or program is not supported through the router",
      "Use COPY … FROM STDIN / TO STDOUT (psql's \\copy).",
    );
  }
  if (!stmt.is_from) return { sql, kind: "copy-out", sharded: readsSharded };
  const relation = stmt.relation!;
  const table =
    relation.schemaname === undefined ? relation.relname! : `${relation.schemaname}.${relation.relname}`;
  const copyFormat = copyFormatOf(stmt.options ?? []);
  const sharded = catalog.lookup(relation);
  if (sharded === undefined) return { sql, kind: "copy-in", table, copyFormat };
  const columns = stmt.attlist?.map((column) => stringValue(column) ?? "");
  if (copyFormat.format === "binary") {
    return refused(
      sql,
      `COPY … FROM STDIN (FORMAT binary) into sharded table ${table} is not supported`,
      "Use text or csv.",
    );
  }
  if (columns === undefined) {
    return {
      sql,
      kind: "copy-in",
      table,
      keyType: sharded.keyType,
      keyColumn: sharded.keyColumn,
      copyFormat,
    };
  }
  const keyColumnIndex = columns.indexOf(sharded.keyColumn);
  if (keyColumnIndex < 0) {
    return refused(
      sql,
      `COPY into sharded table ${table} must include its key column ${sharded.keyColumn}`,
      NAME_A_KEY_HINT,
    );
  }
  return {
    sql,
    kind: "copy-in",
    table,
    keyType: sharded.keyType,
    keyColumn: sharded.keyColumn,
    keyColumnIndex,
    columns,
    copyFormat,
  };
}

function copyFormatOf(options: readonly Node[]): CopyFormat {
  const given = new Map<string, string>();
  for (const option of options) {
    const def = nodeOf<DefElem>(option, "DefElem");
    if (def?.defname !== undefined) given.set(def.defname, def.arg === undefined ? "true" : argText(def.arg));
  }
  const format = (given.get("format") ?? "text").toLowerCase() as CopyFormat["format"];
  const csv = format === "csv";
  const header = (given.get("header") ?? "false").toLowerCase();
  const quote = given.get("quote") ?? '"';
  return {
    format,
    delimiter: given.get("delimiter") ?? (csv ? "," : "\t"),
    header: header === "true" || header === "on" || header === "1" || header === "match",
    quote,
    escape: given.get("escape") ?? quote,
    null: given.get("null") ?? (csv ? "" : "\\N"),
  };
}

/** Statements that change no table data and need one server (or the router) only. */
const READ_ONLY_UTILITY = new Set(["VariableShowStmt", "FetchStmt", "ClosePortalStmt"]);
/** Statements bound to one server session that transaction pooling cannot keep. */
const SESSION_BOUND = new Set([
  "ListenStmt",
  "UnlistenStmt",
  "NotifyStmt",
  "PrepareStmt",
  "ExecuteStmt",
  "LoadStmt",
]);

/** Every other utility statement: DDL and maintenance run on every shard. */
export function planUtility(sql: string, stmt: Node): StatementPlan {
  const kind = nodeKind(stmt) ?? "";
  if (READ_ONLY_UTILITY.has(kind)) return { sql, kind: "any" };
  if (SESSION_BOUND.has(kind)) {
    return refused(
      sql,
      `${kind.replace(/Stmt$/, "").toUpperCase()} is not supported through the router: server sessions are pooled per transaction`,
      "Use the protocol's prepared statements (your driver's) instead of SQL PREPARE/EXECUTE.",
    );
  }
  const discard = nodeOf<{ target?: string }>(stmt, "DiscardStmt");
  if (discard !== undefined) {
    const value = (discard.target ?? "DISCARD_ALL").replace("DISCARD_", "").toLowerCase();
    return { sql, kind: "set", name: "discard", value, local: false };
  }
  const deallocate = nodeOf<{ name?: string }>(stmt, "DeallocateStmt");
  if (deallocate !== undefined)
    return { sql, kind: "set", name: "deallocate", value: deallocate.name ?? "all", local: false };
  return { sql, kind: "broadcast", write: true };
}
