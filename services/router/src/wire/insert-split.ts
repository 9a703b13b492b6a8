// Interim: @dbplane/sqlroute's splitInsert is not merged yet. This follows the interface in
// WIRE.md so the session switches to the planner's own by changing its import.
import type { InsertSplitPlan } from "@dbplane/sqlroute";

/** A multi-row INSERT (without parameters) as one statement per shard. */
export function splitInsert(
  plan: InsertSplitPlan,
  params: readonly (string | null)[],
  shardOf: (key: string) => number,
): Map<number, { sql: string; params: (string | null)[] }> {
  const bytes = Buffer.from(plan.sql, "utf8");
  const perShard = new Map<number, string[]>();
  for (const [i, key] of plan.rows.entries()) {
    const value = key.kind === "const" ? key.value : params[key.index];
    const shard = shardOf(value ?? "");
    const [start, end] = plan.rowSpans[i]!;
    const row = bytes.toString("utf8", start, end);
    const rows = perShard.get(shard);
    if (rows) rows.push(row);
    else perShard.set(shard, [row]);
  }
  return new Map(
    [...perShard].map(([shard, rows]) => [
      shard,
      { sql: `${plan.prefix}${rows.join(", ")}${plan.suffix}`, params: [...params] },
    ]),
  );
}
