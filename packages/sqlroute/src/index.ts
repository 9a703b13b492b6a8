export { mergeRows } from "./merge-rows.ts";
export type { ParsedStatement } from "./parser.ts";
export { loadParser } from "./parser.ts";
export type {
  CopyFormat,
  InsertSplitPlan,
  KeyExpr,
  KeyedPlan,
  MergePlan,
  ShardedTableSpec,
  StatementPlan,
  TransactionAction,
} from "./plan-types.ts";
export { PlanError } from "./plan-types.ts";
export type { InsertPart } from "./split-insert.ts";
export { splitInsert } from "./split-insert.ts";
export { DEFAULT_PLAN_CACHE_SIZE, StatementPlanner } from "./statement-planner.ts";
export { TYPE_OID } from "./value-order.ts";
