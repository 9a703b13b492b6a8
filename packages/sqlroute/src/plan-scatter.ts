import type { ShardKeyType } from "@dbplane/sharding";
import type { Node } from "libpg-query";
import type { KeyExpr, MergePlan, StatementPlan } from "./plan-types.ts";

/** A read answered by several shards: how to merge their rows (step 2 fills in the rewrite). */
export function planScatter(
  sql: string,
  _stmt: Node,
  _start: number,
  keyed: { keyType: ShardKeyType; keys: KeyExpr[] } | undefined,
): StatementPlan {
  const merge: MergePlan = { orderBy: [], aggregates: [], groupBy: [], distinct: false, hiddenColumns: 0 };
  if (keyed !== undefined) {
    return {
      sql,
      kind: "keyed",
      keyType: keyed.keyType,
      keys: keyed.keys,
      write: false,
      merge,
      rewrittenSql: sql,
    };
  }
  return { sql, kind: "scatter", merge, rewrittenSql: sql };
}
