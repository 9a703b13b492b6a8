import type { A_Const, Node } from "libpg-query";
import type { KeyExpr } from "./plan-types.ts";

/** A parse-tree object: `{ NodeType: body }`, a body, or a list. The tree is plain JSON. */
export type AstObject = Record<string, unknown>;

/** The node's type name (`SelectStmt`, `A_Expr`, ...), or undefined for a body, list or scalar. */
export function nodeKind(node: unknown): string | undefined {
  if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
  const keys = Object.keys(node);
  return keys.length === 1 && /^[A-Z]/.test(keys[0]!) ? keys[0] : undefined;
}

/** The body of a node of the given type, or undefined when the node is of another type. */
export function nodeOf<T>(node: unknown, kind: string): T | undefined {
  return nodeKind(node) === kind ? ((node as AstObject)[kind] as T) : undefined;
}

/** A String node's value. */
export function stringValue(node: Node | undefined): string | undefined {
  return nodeOf<{ sval?: string }>(node, "String")?.sval ?? undefined;
}

/** An operator's name (`=`, `<>`), schema qualification dropped. */
export function operatorName(name: readonly Node[] | undefined): string | undefined {
  const last = name?.at(-1);
  return last === undefined ? undefined : stringValue(last);
}

/** The text of a literal as PostgreSQL would read it: integers, decimals, strings, booleans. */
export function constText(c: A_Const): string | undefined {
  if (c.isnull) return undefined;
  if (c.sval !== undefined) return c.sval.sval ?? "";
  if (c.ival !== undefined) return String(c.ival.ival ?? 0); // the JSON omits a zero ival
  if (c.fval !== undefined) return c.fval.fval;
  if (c.boolval !== undefined) return c.boolval.boolval ? "true" : "false";
  return undefined;
}

/**
 * A shard-key value in an expression: a literal, `$n`, or either cast (`'42'::bigint`, `$1::int8`).
 * Anything else (a function call, arithmetic, a column) is not knowable before execution.
 */
export function keyExprOf(node: Node | undefined): KeyExpr | undefined {
  const cast = nodeOf<{ arg?: Node }>(node, "TypeCast");
  if (cast !== undefined) return keyExprOf(cast.arg);
  const literal = nodeOf<A_Const>(node, "A_Const");
  if (literal !== undefined) {
    const value = constText(literal);
    return value === undefined ? undefined : { kind: "const", value };
  }
  const param = nodeOf<{ number?: number }>(node, "ParamRef");
  if (param?.number !== undefined && param.number > 0) return { kind: "param", index: param.number - 1 };
  return undefined;
}

/** The column names of a ColumnRef (`["a", "aid"]` for `a.aid`), or undefined for `*` forms. */
export function columnPath(node: Node | undefined): string[] | undefined {
  const ref = nodeOf<{ fields?: Node[] }>(node, "ColumnRef");
  if (ref?.fields === undefined) return undefined;
  const path: string[] = [];
  for (const field of ref.fields) {
    const name = stringValue(field);
    if (name === undefined) return undefined;
    path.push(name);
  }
  return path;
}

/** A function's name without its schema (`pg_catalog.count` is `count`). */
export function functionName(funcname: readonly Node[] | undefined): string | undefined {
  const last = funcname?.at(-1);
  return last === undefined ? undefined : stringValue(last)?.toLowerCase();
}

export function keyExprId(key: KeyExpr): string {
  return key.kind === "const" ? `c:${key.value}` : `p:${key.index}`;
}
