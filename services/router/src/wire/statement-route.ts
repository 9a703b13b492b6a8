import type { NoticeFields } from "@dbplane/pgwire";
import { type InsertPart, type StatementPlan, splitInsert } from "@dbplane/sqlroute";
import type { LiveMap } from "../shards/live-map.ts";
import {
  type BoundParameters,
  defaultShard,
  hintKeyType,
  keyValue,
  shardOfKey,
  shardsOfKeys,
} from "./key-routing.ts";
import type { Combine } from "./shard-results.ts";
import { errorFields } from "./wire-protocol.ts";

/** Where a statement runs. */
export type Route =
  | { readonly kind: "one"; readonly shard: number }
  | {
      readonly kind: "many";
      readonly shards: readonly number[];
      readonly combine: Combine;
      readonly sql?: string;
    }
  | {
      readonly kind: "split";
      readonly parts: ReadonlyMap<number, InsertPart>;
    }
  | { readonly kind: "local" };

/** What of the session routing depends on. */
export interface RoutingState {
  /** `SET dbplane.shard_key`: keyless statements go to this key's shard. */
  readonly shardKey: string | undefined;
  /** `SET dbplane.allow_scatter_writes = on`. */
  readonly allowScatterWrites: boolean;
  /** The shard the open transaction is pinned to. */
  readonly pinned: number | undefined;
}

/** A statement refused by the router: its ERROR, and whether it fails the transaction block. */
export class Refusal extends Error {
  readonly fields: NoticeFields;
  constructor(fields: NoticeFields) {
    super(fields.message);
    this.name = "Refusal";
    this.fields = fields;
  }
}

/** Bind values as text (binary integers and uuids decoded), for LIMIT $n and INSERT splitting. */
export function parameterTexts(parameters: BoundParameters | undefined): (string | null)[] {
  return (parameters?.values ?? []).map((_, index) => keyValue({ kind: "param", index }, parameters));
}

const emptyMerge = { orderBy: [], aggregates: [], groupBy: [], distinct: false, hiddenColumns: 0 } as const;

/**
 * Where a planned statement runs: one shard, several (with how their answers combine), a
 * multi-row INSERT's parts, or the router itself (transaction control, SET).
 * @throws Refusal for what the router will not run (a keyless write to a sharded table, a plan
 *   the planner refused)
 */
export function routeStatement(
  map: LiveMap,
  plan: StatementPlan,
  session: RoutingState,
  parameters?: BoundParameters,
): Route {
  const all = map.serving;
  const pinnedOrDefault = () => session.pinned ?? defaultShard(map);
  const { shardKey } = session;
  const hinted = shardKey === undefined ? undefined : shardOfKey(map, hintKeyType(shardKey), shardKey);
  switch (plan.kind) {
    case "keyed": {
      const shards = shardsOfKeys(map, plan.keyType, plan.keys, parameters);
      if (shards.length === 1) return { kind: "one", shard: shards[0]! };
      if (plan.write) return { kind: "many", shards, combine: { kind: "sum" } };
      return {
        kind: "many",
        shards,
        combine: { kind: "merge", merge: plan.merge ?? emptyMerge, params: parameterTexts(parameters) },
        ...(plan.rewrittenSql === undefined ? {} : { sql: plan.rewrittenSql }),
      };
    }
    case "insert-split": {
      const parts = splitInsert(plan, parameterTexts(parameters), (key) =>
        shardOfKey(map, plan.keyType, key),
      );
      if (parts.size === 1) return { kind: "one", shard: [...parts.keys()][0]! };
      return { kind: "split", parts };
    }
    case "scatter":
      if (hinted !== undefined) return { kind: "one", shard: hinted };
      return {
        kind: "many",
        shards: all,
        combine: { kind: "merge", merge: plan.merge, params: parameterTexts(parameters) },
        sql: plan.rewrittenSql,
      };
    case "any":
      return { kind: "one", shard: hinted ?? pinnedOrDefault() };
    case "broadcast":
      return { kind: "many", shards: all, combine: { kind: "first" } };
    case "scatter-write":
      if (hinted !== undefined) return { kind: "one", shard: hinted };
      if (plan.insertRefusal !== undefined) {
        throw new Refusal(
          errorFields("0A000", plan.insertRefusal.message, { hint: plan.insertRefusal.hint }),
        );
      }
      if (!session.allowScatterWrites) {
        throw new Refusal(
          errorFields("0A000", "a write to a sharded table must name its shard key", {
            hint: "Add WHERE <key column> = <value>, or SET dbplane.allow_scatter_writes = on to run it on every shard.",
          }),
        );
      }
      return { kind: "many", shards: all, combine: { kind: "sum" } };
    case "copy-out":
      return plan.sharded
        ? { kind: "many", shards: all, combine: { kind: "sum" } }
        : { kind: "one", shard: pinnedOrDefault() };
    case "refused":
      throw new Refusal(
        errorFields(plan.code, plan.message, plan.hint === undefined ? {} : { hint: plan.hint }),
      );
    default:
      return { kind: "local" };
  }
}
