// Interim: @dbplane/sqlroute's mergeRows and splitInsert are not merged yet. These follow the
// interface in WIRE.md so the session switches to the planner's own by changing this import.
import type { InsertSplitPlan, MergePlan } from "@dbplane/sqlroute";

type Row = (string | null)[];

const numericTypes = new Set([20, 21, 23, 700, 701, 1700, 26]);

function compare(a: string | null, b: string | null, numeric: boolean, nullsFirst: boolean): number {
  if (a === b) return 0;
  if (a === null) return nullsFirst ? -1 : 1;
  if (b === null) return nullsFirst ? 1 : -1;
  if (numeric) {
    const x = Number(a);
    const y = Number(b);
    if (x !== y) return x < y ? -1 : 1;
    return 0;
  }
  return a < b ? -1 : 1;
}

function add(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  if (/^-?\d+$/.test(a) && /^-?\d+$/.test(b)) return String(BigInt(a) + BigInt(b));
  return String(Number(a) + Number(b));
}

/** Merges per-shard rows (text values) into the client's rows, per the plan. */
export function mergeRows(
  plan: MergePlan,
  typeOids: readonly number[],
  shards: readonly (readonly Row[])[],
): Row[] {
  let rows: Row[] = shards.flatMap((r) => r.map((row) => [...row]));
  if (plan.aggregates.length > 0) {
    const groups = new Map<string, Row>();
    for (const row of rows) {
      const key = JSON.stringify(plan.groupBy.map((c) => row[c]));
      const current = groups.get(key);
      if (!current) {
        groups.set(key, row);
        continue;
      }
      for (const { column, fn } of plan.aggregates) {
        const numeric = numericTypes.has(typeOids[column] ?? 0);
        if (fn === "count" || fn === "sum") current[column] = add(current[column]!, row[column]!);
        else if (
          fn === "min" &&
          row[column] !== null &&
          (current[column] === null || compare(row[column]!, current[column]!, numeric, false) < 0)
        )
          current[column] = row[column]!;
        else if (
          fn === "max" &&
          row[column] !== null &&
          (current[column] === null || compare(row[column]!, current[column]!, numeric, false) > 0)
        )
          current[column] = row[column]!;
      }
    }
    rows = [...groups.values()];
    if (rows.length === 0 && plan.groupBy.length === 0) rows = [];
  }
  if (plan.distinct) {
    const seen = new Set<string>();
    rows = rows.filter((row) => {
      const key = JSON.stringify(row);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }
  if (plan.orderBy.length > 0) {
    rows.sort((a, b) => {
      for (const { column, descending, nullsFirst } of plan.orderBy) {
        const order = compare(a[column]!, b[column]!, numericTypes.has(typeOids[column] ?? 0), nullsFirst);
        if (order !== 0) return descending ? -order : order;
      }
      return 0;
    });
  }
  const offset = plan.offset ?? 0;
  rows = rows.slice(offset, plan.limit === undefined ? undefined : offset + plan.limit);
  const width = typeOids.length - plan.hiddenColumns;
  return rows.map((row) => row.slice(0, width));
}

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
