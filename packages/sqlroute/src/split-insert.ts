import { SqlText, scanTokens } from "./parser.ts";
import type { InsertSplitPlan } from "./plan-types.ts";
import { PlanError } from "./plan-types.ts";

/** One shard's part of a multi-row INSERT. */
export interface InsertPart {
  /** The statement with only this shard's VALUES rows, its parameters renumbered `$1..$k`. */
  readonly sql: string;
  /** The values of those parameters, in their new order. */
  readonly params: (string | null)[];
  /**
   * For each new parameter, the 0-based index of the client's parameter it was: the client's
   * declared parameter types (Parse) follow their values through it.
   */
  readonly sourceParams: number[];
}

/**
 * Splits a multi-row `INSERT … VALUES` into one statement per shard: each shard gets the prefix
 * (`INSERT INTO t (…) VALUES `), its own rows in their original order and the suffix (`ON
 * CONFLICT …`, `RETURNING …`). Parameters are renumbered per part, because a statement whose
 * `$n` skip a number fails on PostgreSQL ("could not determine data type of parameter"); those
 * of the prefix and suffix go to every part. `shardOf` maps a key's text to its shard.
 * Throws PlanError 23502 when a row's key is a NULL parameter: such a row has no shard.
 */
export function splitInsert(
  plan: Pick<InsertSplitPlan, "sql" | "table" | "rows" | "rowSpans">,
  params: readonly (string | null)[],
  shardOf: (key: string) => number,
): Map<number, InsertPart> {
  const text = new SqlText(plan.sql);
  const placeholders = scanTokens(plan.sql).filter((t) => t.tokenName === "PARAM");
  const rowsByShard = new Map<number, number[]>();
  plan.rows.forEach((key, row) => {
    const value = key.kind === "const" ? key.value : params[key.index];
    if (value === null || value === undefined) {
      throw new PlanError("23502", `row ${row + 1} of the INSERT into ${plan.table} has a NULL shard key`, {
        hint: "Every row of a sharded table needs a shard key value.",
      });
    }
    const shard = shardOf(value);
    const rows = rowsByShard.get(shard);
    if (rows === undefined) rowsByShard.set(shard, [row]);
    else rows.push(row);
  });
  const firstRow = plan.rowSpans[0]![0];
  const lastRow = plan.rowSpans.at(-1)![1];
  const parts = new Map<number, InsertPart>();
  for (const [shard, rows] of rowsByShard) {
    const spans: (readonly [number, number])[] = [
      [0, firstRow],
      ...rows.map((row) => plan.rowSpans[row]!),
      [lastRow, text.bytes.length],
    ];
    const inSpans = (at: number) => spans.some(([start, end]) => at >= start && at < end);
    const used = [
      ...new Set(placeholders.filter((t) => inSpans(t.start)).map((t) => paramIndex(t.text))),
    ].sort((a, b) => a - b);
    const renumbered = new Map(used.map((index, i) => [index, i + 1]));
    const pieces = spans.map(([start, end]) => {
      let out = "";
      let at = start;
      for (const t of placeholders) {
        if (t.start < start || t.start >= end) continue;
        out += `${text.slice(at, t.start)}$${renumbered.get(paramIndex(t.text))}`;
        at = t.end;
      }
      return out + text.slice(at, end);
    });
    const sql = `${pieces[0]}${pieces.slice(1, -1).join(", ")}${pieces.at(-1)}`;
    parts.set(shard, { sql, params: used.map((index) => params[index] ?? null), sourceParams: used });
  }
  return parts;
}

/** `$3` → 2. */
function paramIndex(token: string): number {
  return Number(token.slice(1)) - 1;
}
