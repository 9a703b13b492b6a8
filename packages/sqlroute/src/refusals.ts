import type { StatementPlan } from "./plan-types.ts";

/** SQLSTATE 0A000 feature_not_supported: what the router cannot run correctly across shards. */
export const NOT_SUPPORTED = "0A000";

export const NAME_A_KEY_HINT =
  "Name one shard key in the statement (WHERE <key> = <value>), or add the comment /* dbplane_shard_key: <value> */.";

export function refused(sql: string, message: string, hint?: string): StatementPlan {
  return hint === undefined
    ? { sql, kind: "refused", code: NOT_SUPPORTED, message }
    : { sql, kind: "refused", code: NOT_SUPPORTED, message, hint };
}
