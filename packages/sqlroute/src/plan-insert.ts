import type { InsertStmt, Node, SelectStmt } from "libpg-query";
import { keyExprOf, nodeOf } from "./ast.ts";
import { SqlText, scanTokens } from "./parser.ts";
import type { KeyExpr, StatementPlan } from "./plan-types.ts";
import { NAME_A_KEY_HINT, refused } from "./refusals.ts";
import type { TableRef } from "./table-references.ts";

/**
 * INSERT into a sharded table: each VALUES row goes to its key's shard. The key must be in the
 * column list — without one the values' order follows the table's columns, which the router does
 * not know — and be a literal or a parameter; otherwise the key is unknowable (scatter-write).
 */
export function planInsert(sql: string, insert: InsertStmt, target: TableRef): StatementPlan {
  const table = target.sharded!;
  const select = nodeOf<SelectStmt>(insert.selectStmt, "SelectStmt");
  const unknownKey = (why: string): StatementPlan => ({
    sql,
    kind: "scatter-write",
    insertRefusal: {
      message: `cannot tell the shard of this INSERT into sharded table ${table.qualifiedName}: ${why}`,
      hint: `Name the key column with a literal or parameter value, e.g. INSERT INTO ${table.qualifiedName} (${table.keyColumn}, …) VALUES (…), or add the comment /* dbplane_shard_key: <value> */.`,
    },
  });
  if (select === undefined) return unknownKey("DEFAULT VALUES has no key value");
  if (select.valuesLists === undefined) {
    return refused(
      sql,
      `INSERT … SELECT into sharded table ${table.qualifiedName} is not supported: the rows' shards are known only after the query runs`,
      `Insert with VALUES (or COPY) naming ${table.keyColumn}, or add the comment /* dbplane_shard_key: <value> */ when every row has that key.`,
    );
  }
  const columns = (insert.cols ?? []).map((col) => nodeOf<{ name?: string }>(col, "ResTarget")?.name);
  const keyIndex = columns.indexOf(table.keyColumn);
  if (insert.cols === undefined)
    return unknownKey("without a column list the router cannot tell which value is the key");
  if (keyIndex < 0) return unknownKey(`the column list does not name ${table.keyColumn}`);
  const rows: KeyExpr[] = [];
  for (const list of select.valuesLists) {
    const items = nodeOf<{ items?: Node[] }>(list, "List")?.items ?? [];
    const key = keyExprOf(items[keyIndex]);
    if (key === undefined) return unknownKey(`${table.keyColumn} is not a literal or a parameter`);
    rows.push(key);
  }
  if (rows.length === 1) return { sql, kind: "keyed", keyType: table.keyType, keys: rows, write: true };
  const layout = valuesLayout(sql, rows.length);
  if (layout === undefined)
    return refused(sql, "could not split this multi-row INSERT by key", NAME_A_KEY_HINT);
  return { sql, kind: "insert-split", keyType: table.keyType, table: table.qualifiedName, rows, ...layout };
}

/** Where each `( … )` row of the VALUES list sits, from the lexer's tokens (UTF-8 byte offsets). */
function valuesLayout(
  sql: string,
  rowCount: number,
): { rowSpans: [number, number][]; prefix: string; suffix: string } | undefined {
  const tokens = scanTokens(sql);
  let depth = 0;
  let i = 0;
  for (; i < tokens.length; i++) {
    const text = tokens[i]!.text;
    if (text === "(") depth++;
    else if (text === ")") depth--;
    else if (depth === 0 && text.toLowerCase() === "values") break;
  }
  const rowSpans: [number, number][] = [];
  for (i++; i < tokens.length && tokens[i]!.text === "("; i++) {
    const open = tokens[i]!;
    depth = 0;
    for (; i < tokens.length; i++) {
      const text = tokens[i]!.text;
      if (text === "(") depth++;
      else if (text === ")" && --depth === 0) break;
    }
    const close = tokens[i];
    if (close === undefined) return undefined;
    rowSpans.push([open.start, close.end]);
    if (tokens[i + 1]?.text !== ",") break;
    i++;
  }
  if (rowSpans.length !== rowCount) return undefined;
  const text = new SqlText(sql);
  return { rowSpans, prefix: text.slice(0, rowSpans[0]![0]), suffix: text.slice(rowSpans.at(-1)![1]) };
}
