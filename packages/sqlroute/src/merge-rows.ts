import { addDecimals, averageDecimal, type Decimal, formatDecimal, parseDecimal } from "./decimal-text.ts";
import type { MergePlan } from "./plan-types.ts";
import { PlanError } from "./plan-types.ts";
import { comparatorFor, groupKeyFor, parseFloatText, TYPE_OID, type ValueComparator } from "./value-order.ts";

type Row = readonly (string | null)[];
type Aggregate = MergePlan["aggregates"][number];

/**
 * Merges the rows each shard returned for a scatter read (text-format values, hidden columns
 * included, each shard's rows already in the statement's order) into the client's rows: groups
 * and aggregates combined, ORDER BY kept by a k-way merge, DISTINCT, OFFSET/LIMIT applied and
 * the hidden columns dropped. `params` are the statement's bind values, for `LIMIT $n`.
 * Throws PlanError 0A000 for values it cannot combine exactly (e.g. sum of an interval).
 */
export function mergeRows(
  plan: MergePlan,
  columnTypeOids: readonly number[],
  shards: readonly (readonly Row[])[],
  params: readonly (string | null)[] = [],
): (string | null)[][] {
  const width = columnTypeOids.length;
  const at = (column: number) => (column < 0 ? width + column : column);
  const order = plan.orderBy.map((o) => ({
    ...o,
    column: at(o.column),
    compare: comparatorFor(columnTypeOids[at(o.column)]!),
  }));
  const compareRows = (a: Row, b: Row) => compareByOrder(order, a, b);
  let rows: Row[];
  if (plan.aggregates.length > 0 || plan.groupBy.length > 0) {
    rows = aggregateGroups(plan, columnTypeOids, shards.flat(), at);
    if (order.length > 0) rows.sort(compareRows);
  } else {
    rows = order.length > 0 ? kWayMerge(shards, compareRows) : shards.flat();
  }
  if (plan.distinct) rows = distinctRows(rows, columnTypeOids, width - plan.hiddenColumns);
  const offset = countValue(plan.offset, plan.offsetParam, params) ?? 0;
  const limit = countValue(plan.limit, plan.limitParam, params);
  rows = rows.slice(offset, limit === undefined ? undefined : offset + limit);
  return rows.map((row) => row.slice(0, width - plan.hiddenColumns));
}

function countValue(
  value: number | undefined,
  param: number | undefined,
  params: readonly (string | null)[],
) {
  if (param === undefined) return value;
  const text = params[param];
  return text === null || text === undefined ? undefined : Number(text);
}

function compareByOrder(
  order: readonly { column: number; descending: boolean; nullsFirst: boolean; compare: ValueComparator }[],
  a: Row,
  b: Row,
): number {
  for (const o of order) {
    const x = a[o.column] ?? null;
    const y = b[o.column] ?? null;
    if (x === null || y === null) {
      if (x === y) continue;
      return (x === null) === o.nullsFirst ? -1 : 1;
    }
    const c = o.compare(x, y);
    if (c !== 0) return o.descending ? -c : c;
  }
  return 0;
}

/** Merges lists each already sorted: repeatedly takes the smallest head (few shards: a scan beats a heap). */
function kWayMerge(shards: readonly (readonly Row[])[], compare: (a: Row, b: Row) => number): Row[] {
  const heads = shards.map(() => 0);
  const total = shards.reduce((n, rows) => n + rows.length, 0);
  const merged: Row[] = [];
  while (merged.length < total) {
    let best = -1;
    for (let s = 0; s < shards.length; s++) {
      const row = shards[s]![heads[s]!];
      if (row !== undefined && (best < 0 || compare(row, shards[best]![heads[best]!]!) < 0)) best = s;
    }
    merged.push(shards[best]![heads[best]!++]!);
  }
  return merged;
}

function distinctRows(rows: readonly Row[], oids: readonly number[], visible: number): Row[] {
  const keys = oids.slice(0, visible).map(groupKeyFor);
  const seen = new Set<string>();
  return rows.filter((row) => {
    const key = rowKey(row, keys);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function rowKey(row: Row, keys: readonly ((v: string) => string)[], columns?: readonly number[]): string {
  const picked = columns ?? keys.map((_, i) => i);
  return JSON.stringify(
    picked.map((c) => (row[c] === null || row[c] === undefined ? null : keys[c]!(row[c]!))),
  );
}

/** One row per group: non-aggregate columns from the group's first row, aggregates combined. */
function aggregateGroups(
  plan: MergePlan,
  oids: readonly number[],
  rows: readonly Row[],
  at: (c: number) => number,
): Row[] {
  const groupColumns = plan.groupBy.map(at);
  const keys = oids.map(groupKeyFor);
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = rowKey(row, keys, groupColumns);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [row]);
    else group.push(row);
  }
  return [...groups.values()].map((group) => {
    const merged = [...group[0]!];
    for (const aggregate of plan.aggregates) {
      const column = at(aggregate.column);
      merged[column] = combine(aggregate, column, oids, group, at);
    }
    return merged;
  });
}

function combine(
  aggregate: Aggregate,
  column: number,
  oids: readonly number[],
  group: readonly Row[],
  at: (c: number) => number,
) {
  const values = (c: number) => group.map((row) => row[c] ?? null).filter((v): v is string => v !== null);
  switch (aggregate.fn) {
    case "count":
      return values(column)
        .reduce((n, v) => n + BigInt(v), 0n)
        .toString();
    case "sum":
      return sumValues(values(column), oids[column]!);
    case "min":
    case "max": {
      const compare = comparatorFor(oids[column]!);
      const sign = aggregate.fn === "min" ? 1 : -1;
      return values(column).reduce<string | null>(
        (best, v) => (best === null || sign * compare(v, best) < 0 ? v : best),
        null,
      );
    }
    case "avg":
      return average(
        values(at(aggregate.sumColumn!)),
        values(at(aggregate.countColumn!)).reduce((n, v) => n + BigInt(v), 0n),
        oids[column]!,
      );
  }
}

function sumValues(values: readonly string[], oid: number): string | null {
  if (values.length === 0) return null;
  if (oid === TYPE_OID.int8 || oid === TYPE_OID.int4 || oid === TYPE_OID.int2) {
    return values.reduce((n, v) => n + BigInt(v), 0n).toString();
  }
  if (oid === TYPE_OID.numeric) return formatDecimal(sumDecimals(values));
  // sum(real) adds in single precision (float4pl), sum(double precision) in double.
  if (oid === TYPE_OID.float4)
    return formatFloat4(values.reduce((n, v) => Math.fround(n + parseFloatText(v)), 0));
  if (oid === TYPE_OID.float8) return formatFloat(values.reduce((n, v) => n + parseFloatText(v), 0));
  throw new PlanError("0A000", `sum of type OID ${oid} across shards is not supported`, {
    hint: "Sum integer, numeric or float columns, or name one shard key.",
  });
}

function sumDecimals(values: readonly string[]): Decimal {
  return values.reduce<Decimal>((sum, v) => addDecimals(sum, parseDecimal(v)), {
    kind: "finite",
    unscaled: 0n,
    scale: 0,
  });
}

function average(sums: readonly string[], count: bigint, oid: number): string | null {
  if (count === 0n || sums.length === 0) return null;
  if (oid === TYPE_OID.numeric) return formatDecimal(averageDecimal(sumDecimals(sums), count));
  if (oid === TYPE_OID.float8 || oid === TYPE_OID.float4) {
    return formatFloat(sums.reduce((n, v) => n + parseFloatText(v), 0) / Number(count));
  }
  throw new PlanError("0A000", `avg of type OID ${oid} across shards is not supported`, {
    hint: "Average integer, numeric or float columns, or name one shard key.",
  });
}

/**
 * float8 as PostgreSQL prints it: the shortest digits that read back exactly (as JavaScript's),
 * in exponent form below 1e-4 and from 1e15 on, with a two-digit exponent (`1e+16`, `1.5e-07`).
 */
function formatFloat(value: number): string {
  return formatShortest(value, value, 15);
}

/** float4 likewise: the shortest digits that read back to the same float4; exponent form from 1e6. */
function formatFloat4(value: number): string {
  for (let precision = 1; precision < 9; precision++) {
    const shortest = Number(value.toPrecision(precision));
    if (Math.fround(shortest) === value) return formatShortest(value, shortest, 6);
  }
  return formatShortest(value, value, 6);
}

function formatShortest(value: number, shortest: number, exponentFrom: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "Infinity";
  if (value === Number.NEGATIVE_INFINITY) return "-Infinity";
  const [mantissa, exponentText] = shortest.toExponential().split("e") as [string, string];
  const exponent = Number(exponentText);
  if (value !== 0 && (exponent < -4 || exponent >= exponentFrom)) {
    return `${mantissa}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  return Object.is(value, -0) ? "-0" : String(shortest);
}
